"""Connecting to the engine: one round trip (`GET /_ping`), which proves the engine answers and
names its API version; the client then speaks that version, as docker-py's own negotiation
(`GET /version`, which moby answers only after running `runc --version`) would have chosen.  And an
engine whose answer names no version: docker-py's negotiation, against a small stand-in (a real
engine always names it)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from baker.image import engine


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The path of every request any requests session sends."""
    sent: list[str] = []
    real = requests.Session.send

    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        sent.append(str(request.path_url).split("?", 1)[0])
        return real(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


@pytest.mark.docker
def test_connect_asks_the_engine_once_and_speaks_the_api_version_it_names(
    docker_client: Any, paths: list[str]
) -> None:
    expected = docker_client.version()["ApiVersion"]
    paths.clear()
    client = engine.connect()
    assert paths == ["/_ping"]
    assert client.api.api_version == expected
    assert engine.inspect_image("sha256:" + "0" * 64, client=client) is None  # it works
    assert paths[-1] == f"/v{expected}/images/sha256:{'0' * 64}/json"


class _NoVersionEngine(http.server.BaseHTTPRequestHandler):
    """Answers `/_ping` without an `Api-Version` header, and `/version` as moby does."""

    def do_GET(self) -> None:
        body = b"OK" if self.path == "/_ping" else json.dumps({"ApiVersion": "1.41"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def no_version_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoVersionEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_an_engine_whose_answer_names_no_api_version_is_asked_for_it(
    no_version_engine: None, paths: list[str]
) -> None:
    client = engine.connect()
    assert paths == ["/_ping", "/version"]
    assert client.api.api_version == "1.41"


class _DripHeaders(http.server.BaseHTTPRequestHandler):
    """Answers `/_ping` with a status line, then its headers a byte every half second, without end
    (each read is quick: only a bound on the whole exchange cuts it)."""

    protocol_version = "HTTP/1.1"
    stop = threading.Event()

    def do_GET(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        self.wfile.flush()
        try:
            while not self.stop.wait(0.5):
                self.wfile.write(b"a")
                self.wfile.flush()
        except OSError:
            return

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Redirects(http.server.BaseHTTPRequestHandler):
    """Answers every request with a 307 to another loopback host, and counts what reaches it."""

    protocol_version = "HTTP/1.1"
    target = ""

    def _any(self) -> None:
        self.send_response(307)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _any

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _serve(handler: type[http.server.BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Any:
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_connect_ends_by_its_timeout_when_the_engine_drips_the_headers_of_its_ping_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from baker.errors import EngineError
    from baker.image.engine import client as engine_client

    monkeypatch.setattr(engine_client, "CONNECT_TIMEOUT", 2.0)
    handler = type("Drip", (_DripHeaders,), {"stop": threading.Event()})
    server = _serve(handler)
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    started = time.monotonic()
    try:
        with pytest.raises(EngineError, match="no answer within 2 s"):
            engine.connect()
        took = time.monotonic() - started
    finally:
        handler.stop.set()
        server.shutdown()
        server.server_close()
    assert took < 6


@pytest.mark.parametrize("injected", [False, True], ids=["connect", "an injected client"])
def test_an_engine_request_answered_with_a_redirect_fails_naming_no_url_and_goes_nowhere_else(
    monkeypatch: pytest.MonkeyPatch, injected: bool
) -> None:
    import docker

    from baker.errors import EngineError

    class Elsewhere(_Redirects):
        def _any(self) -> None:
            reached.append(self.path)
            super()._any()

        do_GET = do_POST = _any

    reached: list[str] = []
    elsewhere = _serve(Elsewhere, "127.0.0.2")
    handler = type("Redirects", (_Redirects,), {"target": f"http://127.0.0.2:{elsewhere.server_address[1]}"})
    server = _serve(handler)
    url = f"tcp://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("DOCKER_HOST", url)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    try:
        with pytest.raises(EngineError) as raised:
            if injected:
                client = docker.DockerClient(base_url=url, version="1.41")
                try:
                    engine.inspect_image("sha256:" + "0" * 64, client=client)
                finally:
                    client.close()
            else:
                engine.connect()
    finally:
        for each in (server, elsewhere):
            each.shutdown()
            each.server_close()
    assert "redirect" in str(raised.value)
    assert "127.0.0" not in str(raised.value) and "http" not in str(raised.value)
    assert reached == []

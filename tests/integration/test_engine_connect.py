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

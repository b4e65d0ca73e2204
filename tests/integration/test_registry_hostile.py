"""A hostile or broken registry, played by real loopback servers: credentials never follow a
redirect to another host (scheme, host and port), a stalled or endless answer is cut at a deadline
or a size cap, deep JSON nesting is a clear error, and a reference outside Docker's grammar is
refused before any connection.  Every case ends in an `ImageError` (or a usage error), never a
traceback, and within a few seconds: the deadline is injected small."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from baker.cli import main
from baker.errors import ImageError
from baker.image import engine
from baker.image.registry import auth as registry_auth
from baker.image.registry import client as registry_client
from baker.image.registry import read as registry
from baker.image.registry.auth import Login
from baker.secret import Secret

USER, PASSWORD = "ci-user", "registry-pw-H0stile-C4n4ry"
CONFIG_DIGEST = "sha256:" + "c" * 64


def _manifest(config_digest: str = CONFIG_DIGEST) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest},
            "layers": [],
        }
    ).encode()


Answer = Callable[[http.server.BaseHTTPRequestHandler], None]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str]
    answer: Answer

    def _handle(self) -> None:
        self.seen.append(f"{self.command} {self.path} {self.headers.get('Authorization', '')}")
        self.answer(self)  # type: ignore[misc]

    do_GET = do_POST = do_DELETE = do_HEAD = _handle

    def log_message(self, *args: Any) -> None:
        pass


def send(h: http.server.BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name.replace("_", "-"), value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], tuple[str, list[str]]]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(answer: Answer) -> tuple[str, list[str]]:
        seen: list[str] = []
        handler = type("Handler", (_Handler,), {"seen": seen, "answer": staticmethod(answer)})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def logged_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user has a `docker login` for every registry asked about (the test's first one)."""
    monkeypatch.setattr(registry_auth, "login_for", lambda host: Login(user=USER, password=Secret(PASSWORD)))


def _carries_credentials(seen: list[str]) -> list[str]:
    return [line for line in seen if "Basic" in line or PASSWORD in line or "token" in line.lower()]


# --- C: credentials stay with the registry they were stored for -------------------------------------


def test_a_redirect_to_another_host_that_asks_for_credentials_never_receives_them(
    serve: Callable[[Answer], tuple[str, list[str]]], logged_in: None
) -> None:
    def stranger(h: http.server.BaseHTTPRequestHandler) -> None:
        port = h.server.server_address[1]
        if h.path.startswith("/token"):
            send(h, 200, b'{"token": "stranger-token"}')
        else:
            send(h, 401, WWW_Authenticate=f'Bearer realm="http://127.0.0.1:{port}/token",service="s"')

    other, other_seen = serve(stranger)

    def first(h: http.server.BaseHTTPRequestHandler) -> None:
        if "/manifests/" in h.path:
            send(h, 200, _manifest(), Content_Type="application/vnd.oci.image.manifest.v1+json")
        else:
            send(h, 307, Location=f"http://{other}/blob-storage/{CONFIG_DIGEST}")

    host, _ = serve(first)
    with pytest.raises(ImageError) as info:
        registry.fetch_config(f"{host}/team/app:t")
    assert other_seen, "the redirect was not followed at all"
    assert _carries_credentials(other_seen) == []
    assert other in info.value.message and "credentials" in info.value.message


def test_a_redirect_to_the_same_host_on_another_port_counts_as_another_host(
    serve: Callable[[Answer], tuple[str, list[str]]], logged_in: None
) -> None:
    """The registry demands Basic; its blob redirect to another port must not carry the header."""

    def storage(h: http.server.BaseHTTPRequestHandler) -> None:
        send(h, 401, WWW_Authenticate='Basic realm="storage"')

    other, other_seen = serve(storage)

    def first(h: http.server.BaseHTTPRequestHandler) -> None:
        if not h.headers.get("Authorization", "").startswith("Basic "):
            send(h, 401, WWW_Authenticate='Basic realm="registry"')
        elif "/manifests/" in h.path:
            send(h, 200, _manifest(), Content_Type="application/vnd.oci.image.manifest.v1+json")
        else:
            send(h, 307, Location=f"http://{other}/blob")

    host, seen = serve(first)
    with pytest.raises(ImageError):
        registry.fetch_config(f"{host}/team/app:t")
    assert any("Basic" in line for line in seen)  # the registry itself got them
    assert other_seen and _carries_credentials(other_seen) == []


def test_a_blob_redirected_to_storage_that_needs_no_credentials_is_read_without_them(
    serve: Callable[[Answer], tuple[str, list[str]]], logged_in: None
) -> None:
    config = json.dumps({"config": {"Labels": {"a": "b"}, "Env": ["A=x"]}}).encode()
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    storage_host, storage_seen = serve(lambda h: send(h, 200, config))

    def first(h: http.server.BaseHTTPRequestHandler) -> None:
        if not h.headers.get("Authorization", "").startswith("Basic "):
            send(h, 401, WWW_Authenticate='Basic realm="registry"')
        elif "/manifests/" in h.path:
            send(h, 200, _manifest(digest), Content_Type="application/vnd.oci.image.manifest.v1+json")
        else:
            send(h, 307, Location=f"http://{storage_host}/signed?sig=1")

    host, _ = serve(first)
    image = registry.fetch_config(f"{host}/team/app:t")
    assert image is not None and image.labels == {"a": "b"}
    assert storage_seen and _carries_credentials(storage_seen) == []


# --- H: bounded in time and size, deep nesting --------------------------------------------------


def _trickle_body(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    _drip(h, b"{")


def _trickle_headers(h: http.server.BaseHTTPRequestHandler) -> None:
    h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    _drip(h, b"a")


def _drip(h: http.server.BaseHTTPRequestHandler, byte: bytes) -> None:
    """One byte every 0.1 s (well inside any per-read timeout), for at most 8 s."""
    end = time.monotonic() + 8
    try:
        while time.monotonic() < end:
            h.wfile.write(byte)
            h.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass
    h.close_connection = True


@pytest.mark.parametrize("answer", [_trickle_body, _trickle_headers], ids=["body", "headers"])
def test_a_registry_that_trickles_its_answer_is_cut_at_the_deadline(
    serve: Callable[[Answer], tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch, answer: Answer
) -> None:
    monkeypatch.setattr(registry_client, "DEADLINE", 1.0)
    host, _ = serve(answer)
    started = time.monotonic()
    with pytest.raises(ImageError) as info:
        registry.fetch_config(f"{host}/team/app:t")
    assert time.monotonic() - started < 3
    assert "did not answer within" in info.value.message and info.value.hint


def _endless(declare: bool) -> Answer:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        if declare:
            h.send_header("Content-Length", str(300 * 1024 * 1024))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        chunk = b" " * 65536
        try:
            for _ in range(200):  # 12.5 MiB at most, then the connection closes
                h.wfile.write(chunk)
        except OSError:
            pass
        h.close_connection = True

    return answer


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "until-close"])
def test_a_manifest_larger_than_the_cap_is_refused_without_reading_it_whole(
    serve: Callable[[Answer], tuple[str, list[str]]], declare: bool
) -> None:
    host, _ = serve(_endless(declare))
    with pytest.raises(ImageError) as info:
        registry.fetch_config(f"{host}/team/app:t")
    assert "larger than" in info.value.message and "MiB" in info.value.message


def _nested_config(label: str | None, raw: bytes | None = None) -> tuple[bytes, str]:
    body = (
        raw
        if raw is not None
        else json.dumps({"config": {"Labels": {"dev.baker.provenance": label}}}).encode()
    )
    return body, "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("where", ["manifest", "config", "label"])
def test_deeply_nested_json_from_a_registry_is_a_clear_error_not_a_crash(
    serve: Callable[[Answer], tuple[str, list[str]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    if where == "config":
        config, digest = _nested_config(None, raw=('{"config": ' + deep + "}").encode())
    else:
        config, digest = _nested_config(deep)
    manifest = deep.encode() if where == "manifest" else _manifest(digest)

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        if "/manifests/" in h.path:
            send(h, 200, manifest, Content_Type="application/vnd.oci.image.manifest.v1+json")
        else:
            send(h, 200, config)

    host, _ = serve(answer)
    monkeypatch.setattr(engine, "inspect_image", lambda ref, **kw: None)  # not in the local engine
    path = tmp_path / "baker.yaml"
    path.write_text(
        "version: 1\nimage:\n  from: busybox:1.36\n  tag: app:baked\nenv:\n  A: x\n", encoding="utf-8"
    )
    code = main(["check", "-f", str(path), "--image", f"{host}/team/app:t", "--json"])
    out, err = capsys.readouterr()
    assert code == 1, err
    document = json.loads(out)
    assert document["error"] == "ImageError" and "nest" in document["message"]
    assert "Traceback" not in err and "RecursionError" not in out + err


# --- L: only Docker references -----------------------------------------------------------------


def test_check_refuses_a_reference_with_userinfo_before_any_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    contacted: list[str] = []

    def refuse_send(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        contacted.append(str(request.url))
        raise requests.ConnectionError("no connection expected")

    monkeypatch.setattr(requests.Session, "send", refuse_send)
    monkeypatch.setattr(engine, "inspect_image", lambda ref, **kw: contacted.append(f"engine {ref}"))
    monkeypatch.setattr(engine, "connect", lambda: contacted.append("engine"))
    path = tmp_path / "baker.yaml"
    path.write_text(
        "version: 1\nimage:\n  from: busybox:1.36\n  tag: app:baked\nenv:\n  A: x\n", encoding="utf-8"
    )
    attacker = "127.0.0.1:5000@registry.attacker.example/app:t"
    code = main(["check", "-f", str(path), "--image", attacker])
    _, err = capsys.readouterr()
    assert code == 2
    assert "not a valid image reference" in err and "registry.attacker.example" in err
    assert contacted == []

"""Registry credentials go only where the registry's challenge names, over https (http only on
loopback): never through a redirect to another host, never in the clear to a remote realm.

Real loopback HTTP servers play the registry, its token service and a stranger."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from baker.errors import ImageError
from baker.image.registry import auth as registry_auth
from baker.image.registry.auth import Login, check_realm
from baker.secret import Secret

IDENTITY_TOKEN = "IDTOKEN-canary-5b7e1d"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str]
    answer: Any

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.seen.append(f"{self.command} {self.path} {body} {self.headers.get('Authorization', '')}")
        status, headers = self.answer(self)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _handle

    def log_message(self, *args: Any) -> None:
        pass


def _serve(answer: Any) -> tuple[str, list[str], http.server.ThreadingHTTPServer]:
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen, "answer": staticmethod(answer)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return f"127.0.0.1:{server.server_address[1]}", seen, server


@pytest.fixture
def servers() -> Iterator[dict[str, Any]]:
    stranger, stranger_seen, s1 = _serve(lambda h: (200, {}))
    realm, realm_seen, s2 = _serve(lambda h: (307, {"Location": f"http://{stranger}/steal"}))
    registry, _, s3 = _serve(
        lambda h: (401, {"WWW-Authenticate": f'Bearer realm="http://{realm}/token",service="r"'})
    )
    yield {"registry": registry, "stranger_seen": stranger_seen, "realm_seen": realm_seen}
    for server in (s1, s2, s3):
        server.shutdown()


def test_an_identity_token_is_never_carried_through_a_redirect(
    servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    found = Login(user="<token>", identity_token=Secret(IDENTITY_TOKEN))
    monkeypatch.setattr(registry_auth, "login_for", lambda host: found)
    from baker.image.registry import read as registry

    with pytest.raises(ImageError):
        registry.check_push(f"{servers['registry']}/team/app:1")
    assert any(IDENTITY_TOKEN in line for line in servers["realm_seen"])  # the realm it named got it
    assert servers["stranger_seen"] == []  # and nobody else


@pytest.mark.parametrize(
    ("realm", "allowed"),
    [
        ("https://auth.example.com/token", True),
        ("http://127.0.0.1:5000/token", True),
        ("http://localhost:5000/token", True),
        ("http://auth.example.com/token", False),
        ("ftp://auth.example.com/token", False),
    ],
)
def test_a_realm_must_be_https_unless_it_is_on_loopback(realm: str, allowed: bool) -> None:
    if allowed:
        check_realm(realm, "registry.example.com")
    else:
        with pytest.raises(ImageError, match="not https"):
            check_realm(realm, "registry.example.com")

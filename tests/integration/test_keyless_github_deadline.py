"""GitHub Actions' ID token endpoint is bounded in time as a whole (issue 20, item 7): an answer
trickled a byte at a time, in its body or in its headers, is cut at the deadline, not read for as
long as the endpoint cares to drip.  A drip server on loopback; the deadline injected small."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from baker.providers.azure import keyless
from baker.providers.azure.keyless import FederatedTokenError, GitHubTokens
from baker.secret import Secret

CANARY = "CANARY-h20b-drip-request-token-0123456789"
DRIP_FOR = 6.0  # seconds the server drips at most; the bound under test is 1 s


class Drip:
    """Answers every request with `head`, then one byte of `drip` every 0.1 s for `DRIP_FOR` s."""

    def __init__(self, head: bytes, drip: bytes) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.port = self._sock.getsockname()[1]
        self._head, self._drip = head, drip
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            conn.sendall(self._head)
            end = time.monotonic() + DRIP_FOR
            while time.monotonic() < end:
                conn.sendall(self._drip)
                time.sleep(0.1)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def small_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyless, "ANSWER_DEADLINE", 1.0)


BODY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
HEADERS = b"HTTP/1.1 200 OK\r\nX-Slow: "


@pytest.fixture(params=["body", "headers"])
def drip(request: pytest.FixtureRequest) -> Iterator[Drip]:
    server = Drip(BODY, b" ") if request.param == "body" else Drip(HEADERS, b"a")
    yield server
    server.close()


def test_an_id_token_answer_dripped_a_byte_at_a_time_is_cut_at_the_deadline(
    drip: Drip, small_bound: None
) -> None:
    tokens = GitHubTokens(
        f"http://127.0.0.1:{drip.port}/idtoken?api-version=2.0", Secret(CANARY), "api://Aud"
    )
    started = time.monotonic()
    with requests.Session() as session, pytest.raises(FederatedTokenError) as info:
        tokens.get(session)
    took = time.monotonic() - started
    assert took < 3.0, f"the fetch took {took:.1f} s against a 1 s bound"
    assert "1 s" in str(info.value) and info.value.evidence == "timeout"
    assert CANARY not in str(info.value)

"""Red-team round 3 follow-up (rt3): slow drips from the keyless token endpoints azure-identity
asks itself (Azure Pipelines' OIDC endpoint, a managed identity endpoint), on loopback.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.providers.azure import keyless
from tests.integration.test_keyless_signin import (  # noqa: F401 - fixture
    WORKLOAD,
    keyless_manifest,
    no_client_secret,
)
from tests.support.fixtures_emulator import SERVICE_CONNECTION

pytestmark = pytest.mark.emulator

CANARY = "CANARY-rt3-request-token-5e1d0c9b8a7f"


class Drip:
    """A loopback endpoint that answers 200 with a JSON Content-Length of 1 MB and then one byte
    every 0.2 s, for at most `seconds` (then it closes)."""

    def __init__(self, seconds: float) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.requests = 0
        self._seconds = seconds
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.requests += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        end = time.monotonic() + self._seconds
        try:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
            )
            while time.monotonic() < end:
                conn.sendall(b" ")
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._sock.close()


@pytest.mark.parametrize("source", ["azure-pipelines", "managed-identity"])
def test_rt3_7_a_dripping_keyless_token_endpoint_is_cut_as_githubs_is(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: str,
) -> None:
    """Issue 20 item 7 bounded the GitHub token fetch as a whole (`ANSWER_DEADLINE`, a watchdog);
    the Azure Pipelines OIDC request and the managed identity request are azure-identity's own, over
    a transport whose 60 s read timeout is per socket read: an endpoint that drips a byte every few
    seconds holds `test-connection` (and every bake) as long as it likes, and azure-identity retries
    it: a 12 s drip held it 48 s (4 requests).  Here the bound is made 1 s and the endpoint drips 4 s."""
    monkeypatch.setattr(keyless, "ANSWER_DEADLINE", 1.0)
    drip = Drip(4)
    url = f"http://127.0.0.1:{drip.port}"
    credential: dict[str, Any]
    if source == "azure-pipelines":
        monkeypatch.setenv(
            "SYSTEM_OIDCREQUESTURI", f"{url}/org/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken"
        )
        monkeypatch.setenv("SYSTEM_ACCESSTOKEN", CANARY)
        credential = {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION}
    else:
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"{url}/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", CANARY)
        credential = {"auth": "managed-identity"}
    started = time.monotonic()
    try:
        main(["test-connection", "-f", str(keyless_manifest(tmp_path, keyless_emulator, credential))])
    finally:
        drip.close()
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err
    assert elapsed < 3, f"{elapsed:.0f} s, {drip.requests} request(s) to the endpoint"

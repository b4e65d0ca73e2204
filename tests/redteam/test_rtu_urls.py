"""Red team on issue 17's URL reading (rtu): `baker.urls` decides with its own grammar, `urls.target`
where a request is about to be made.  The rule of round 3 (issue 20, item 3): what is checked is what
is connected to, and a request token goes only to the origin checked.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from baker.emulator import Emulator
from baker.errors import BakerError
from baker.manifest import checks
from baker.providers.azure.provider import AzureKeyVaultProvider
from tests.integration.test_keyless_signin import (  # noqa: F401 - fixture
    WORKLOAD,
    keyless_manifest,
    no_client_secret,
)
from tests.support.fixtures_emulator import SERVICE_CONNECTION

pytestmark = pytest.mark.emulator

CANARY = "CANARY-rtu-system-access-token-0b7d4e21c9"


class Listener:
    """A loopback listener that records what arrives and answers 500 (an endpoint that must never be
    asked anything)."""

    def __init__(self, address: str) -> None:
        self._sock = socket.socket()
        self._sock.bind((address, 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.received = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 500 No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()


@pytest.mark.xfail(
    strict=True, reason="rtu-1: the Pipelines URL checked is the mapping's, azure-identity's is os.environ's"
)
def test_rtu_1_the_azure_pipelines_url_checked_is_the_one_the_token_goes_to(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rtu-1 (low, Python API).  `manifest.load(path, environ=...)` reads the Azure Pipelines token
    source from the mapping it is given: `loopback.refusal` (at load and again in
    `keyless_incomplete`) checks the mapping's SYSTEM_OIDCREQUESTURI, and the request token
    (SYSTEM_ACCESSTOKEN) comes from the mapping.  But `AzurePipelinesCredential` reads
    `os.environ["SYSTEM_OIDCREQUESTURI"]` itself when it fetches (`build_oidc_request`): the token
    goes to a URL no baker check ever read.  Here the mapping names the emulator, the process
    environment a listener on 127.0.0.3, which receives SYSTEM_ACCESSTOKEN.  (The GitHub source
    sends to `source.request_url`, the URL it checked: that one holds.)"""
    emu = keyless_emulator
    other = Listener("127.0.0.3")
    environ = {**emu.azure_pipelines_env(), "SYSTEM_ACCESSTOKEN": CANARY}
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", f"http://127.0.0.3:{other.port}/org/_apis/oidctoken")
    manifest_path = keyless_manifest(
        tmp_path,
        emu,
        {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION},
    )
    manifest = checks.load(manifest_path, environ=environ)
    provider = AzureKeyVaultProvider(manifest.credentials["c0"])
    try:
        # the fetch fails either way (the listener answers 500): what was sent is what matters
        with pytest.raises(BakerError):
            provider.get_secret("value")
    finally:
        provider.close()
        other.close()
    assert CANARY.encode() not in bytes(other.received), "SYSTEM_ACCESSTOKEN went to 127.0.0.3"


class FakeEngine:
    """A plain-http stand-in for a Docker engine on 127.0.0.1 that answers the version and the ping
    and records each request line."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.lines: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(65536)
                    self.lines.append(data.split(b"\r\n", 1)[0])
                    body = b'{"ApiVersion":"1.41","Version":"20.10.0"}' if b"/version" in data else b"OK"
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()


@pytest.mark.xfail(
    strict=True, reason="rtu-2: a plain tcp:// DOCKER_HOST off loopback is used, every value in clear"
)
def test_rtu_2_a_plain_tcp_engine_off_loopback_is_refused_as_plain_http_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rtu-2 (low; decide).  The loopback rule (plain http to loopback only) guards the registry
    client and the keyless request URLs, but not the engine: `connect()` takes DOCKER_HOST as
    docker-py reads it, and a `tcp://` engine without DOCKER_TLS_VERIFY off loopback gets every value
    (the bake's build request and context) and, on a push, the registry's credentials
    (`X-Registry-Auth`) in clear.  `localhost.` (a trailing dot: a name `baker.loopback` does not
    call loopback, resolved here to 127.0.0.1) stands in for a remote engine: baker asks it for its
    version and ping, and would go on to build there."""
    from baker.errors import EngineError
    from baker.image.engine import client

    engine = FakeEngine()
    monkeypatch.setenv("DOCKER_HOST", f"tcp://localhost.:{engine.port}")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    try:
        with pytest.raises(EngineError):
            client.connect()
    finally:
        engine.close()
    assert engine.lines == [], "baker spoke plain http to an engine its loopback rule does not call loopback"

"""Red team round 7 on the Service Fabric managed identity path (cd18e55: `DirectToLoopback` an
`HTTPAdapter`, so MSAL derives its own session from baker's and asks the endpoint).

MSAL's derived session (`msal.managed_identity._create_service_fabric_http_client`) is built from
the `requests.Session` behind azure-identity's transport (`ServiceFabricCredential` takes
`transport.session`), with MSAL's own pinning adapter: baker's `keyless.BoundedTransport`, which
ends every managed identity request by `ANSWER_DEADLINE` (rt3-7), is never called.  Stand-in: the
pinned loopback TLS endpoint of tests/redteam/test_rt6_netrc.py, holding each request unanswered.

Each finding is an xfail(strict) reproduction until fixed: rt7-2 is (a deadline from outside);
rt7-6 stays open."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from baker.cli import main
from tests.redteam.test_rt6_netrc import _certificate, _TlsRecorder

IDENTITY_HEADER = "rt7-identity-header-canary-5b3e"
DEADLINE = 2.0  # keyless.ANSWER_DEADLINE, made small in the child
WALL = 30.0  # far past what DEADLINE (and azure-identity's retries of a timed-out request) allow


class _Holder:
    """A loopback TLS listener that reads each request's head and never answers (a stuck agent)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.origin = f"https://127.0.0.1:{self._sock.getsockname()[1]}"
        self.heads: list[bytes] = []
        self._held: list[socket.socket] = []
        self._context = context
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(5)
                tls = self._context.wrap_socket(conn, server_side=True)
                self.heads.append(tls.recv(65536).split(b"\r\n\r\n", 1)[0])
                self._held.append(tls)  # never answered
            except OSError:
                conn.close()

    def close(self) -> None:
        self._sock.close()
        for tls in self._held:
            tls.close()


@pytest.fixture
def holding_endpoint(tmp_path: Path) -> Iterator[tuple[_Holder, dict[str, str]]]:
    context, thumbprint = _certificate(tmp_path)
    endpoint = _Holder(context)
    env = {
        "IDENTITY_ENDPOINT": f"{endpoint.origin}/token",
        "IDENTITY_HEADER": IDENTITY_HEADER,
        "IDENTITY_SERVER_THUMBPRINT": thumbprint,
    }
    try:
        yield endpoint, env
    finally:
        endpoint.close()


def test_rt7_2_a_service_fabric_endpoint_that_never_answers_is_cut_by_the_answer_deadline(
    holding_endpoint: tuple[_Holder, dict[str, str]], tmp_path: Path
) -> None:
    """rt7-2 (medium): every managed identity request ends by `keyless.ANSWER_DEADLINE` whatever
    the endpoint does (rt3-7; `BoundedTransport`).  On Service Fabric, MSAL sends the request on
    its own session derived from baker's (`requests.get` with no timeout at all), never through
    `BoundedTransport.send`: an endpoint that takes the request and never answers (a stuck node
    agent; the certificate is the pinned one) holds `baker test-connection` without end.  Here
    the deadline is 2 s; baker still runs at 30 s and is killed."""
    endpoint, env = holding_endpoint
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage:\n  from: busybox:latest\n  tag: rt7/sf:1\n"
        "credentials:\n  sf:\n    provider: azure-key-vault\n    vault_url: https://sf.vault.localhost:9\n"
        "    auth: managed-identity\n    default: true\n"
        "env:\n  ONE: {secret: one}\n",
        encoding="utf-8",
    )
    child_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_FEDERATED_TOKEN_FILE")
    }
    child_env.update(env)
    code = (
        "import sys; import baker.providers.azure.keyless as k; "
        f"k.ANSWER_DEADLINE = {DEADLINE}; from baker.cli import main; "
        f"sys.exit(main(['test-connection', '--no-ci', '-f', {str(manifest)!r}]))"
    )
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        out, err = child.communicate(timeout=WALL)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    took = time.monotonic() - started
    assert endpoint.heads, f"the Service Fabric endpoint was never asked: {out!r} {err!r}"
    assert child.returncode != 0
    assert took < WALL, f"baker was still waiting for the endpoint after {took:.0f} s (killed)"


class _ConnectRecorder:
    """A plain TCP listener on 127.0.0.3 standing in for HTTPS_PROXY: keeps each request's first
    line (`CONNECT host:port HTTP/1.1`), then closes."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.3", 0))
        self._sock.listen(8)
        self.url = f"http://127.0.0.3:{self._sock.getsockname()[1]}"
        self.lines: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    self.lines.append(conn.recv(65536).split(b"\r\n", 1)[0])

    def close(self) -> None:
        self._sock.close()


@pytest.mark.xfail(
    strict=True,
    reason="rt7-6: MSAL's derived Service Fabric session takes the environment's proxy for loopback",
)
def test_rt7_6_a_loopback_service_fabric_endpoint_is_never_asked_through_the_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rt7-6 (low): `baker.proxies` sends every request to a loopback host with no proxy, whatever
    HTTPS_PROXY says (Go's rule).  MSAL's derived Service Fabric session mounts its own pinning
    adapter in place of `DirectToLoopback` and copies `trust_env`: requests merges HTTPS_PROXY, and
    the request for IDENTITY_ENDPOINT=https://127.0.0.1:P goes to the proxy as `CONNECT 127.0.0.1:P`
    (the proxy's own loopback, not this host's: the pin fails there, so no header leaves; the sign-in
    does, and the proxy learns the endpoint).  Expected: the endpoint is asked directly."""
    context, thumbprint = _certificate(tmp_path)
    body = b'{"error": {"code": "SecretHeaderNotFound", "message": "no"}}'
    endpoint = _TlsRecorder(
        "127.0.0.1",
        context,
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body,
    )
    proxy = _ConnectRecorder()
    for name in ("MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{endpoint.origin}/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    monkeypatch.setenv("IDENTITY_SERVER_THUMBPRINT", thumbprint)
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage:\n  from: busybox:latest\n  tag: rt7/sf:1\n"
        "credentials:\n  sf:\n    provider: azure-key-vault\n    vault_url: https://sf.vault.localhost:9\n"
        "    auth: managed-identity\n    default: true\n"
        "env:\n  ONE: {secret: one}\n",
        encoding="utf-8",
    )
    try:
        main(["test-connection", "--no-ci", "-f", str(manifest)])
    finally:
        endpoint.close()
        proxy.close()
    out, err = capsys.readouterr()
    assert proxy.lines == [], proxy.lines
    assert endpoint.heads, f"the Service Fabric endpoint was never asked:\n{out}{err}"

"""Red-team round 8, finding rt8-5 (low to medium): a Key Vault answer's 3xx body is still read
whole, and each redirect's in turn.  `proxies._follow_none` keeps requests from reading a 3xx body
(rt7-7), but azure-core's `RequestsTransport` reads every non-streamed answer whole into memory
(Key Vault's answers are not streamed), with no size bound, and its `RedirectPolicy` follows up to
30 redirects, keeping each answer.  A vault endpoint (a custom name: a private endpoint's proxy, a
host the manifest names) that answers `307` to itself with a 16 MiB body has baker read about
500 MB and grow past 1 GB of memory before it gives up; with a 400 MiB body `test-connection` was
still running after 120 s (killed).  The registry client (streamed, bounded) and the keyless
fetches (`BoundedTransport`, a size cap) bound the same.

Stand-in: a loopback TLS vault at a custom name (its certificate in REQUESTS_CA_BUNDLE), whose every
answer is a 307 to itself with a 16 MiB body; the first request (the challenge's, unauthenticated)
gets it, so no credential is ever used.

Fixed: Key Vault's 3xx answers are not read (or bounded), and its answers have a size bound."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.redteam.test_rt8_service_fabric_token import VAULT_HOST, _vault_certificate

BODY = 16 * 2**20
CHUNK = 2**20
SENT_BOUND = 4 * CHUNK  # what TCP buffers may take unread: far less than one body


@pytest.mark.xfail(strict=True, reason="rt8-5: azure-core reads each Key Vault 3xx body whole, 30 redirects")
def test_rt8_5_a_vault_redirect_body_is_never_read_whole(tmp_path: Path) -> None:
    context, pem = _vault_certificate(tmp_path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    sent = [0]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(10)
                    tls.recv(65536)
                    tls.sendall(
                        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://%s:%d/secrets\r\n"
                        b"Content-Length: %d\r\n\r\n" % (VAULT_HOST.encode(), port, BODY)
                    )
                    for _ in range(BODY // CHUNK):
                        tls.sendall(b"x" * CHUNK)
                        sent[0] += CHUNK
            except OSError:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage:\n  from: busybox:latest\n  tag: rt8/kv:1\n"
        "credentials:\n  kv:\n    provider: azure-key-vault\n"
        f"    vault_url: https://{VAULT_HOST}:{port}\n"
        "    tenant_id: 6f1c0d2e-7a3b-4c5d-9e8f-0a1b2c3d4e5f\n"
        "    client_id: 1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516\n"
        "    client_secret: ${AZURE_CLIENT_SECRET}\n    default: true\n"
        "env:\n  ONE: {secret: one}\n",
        encoding="utf-8",
    )
    env = dict(os.environ, REQUESTS_CA_BUNDLE=str(pem), AZURE_CLIENT_SECRET="rt8-client-secret-canary-5e0a")
    try:
        child = subprocess.run(
            [sys.executable, "-m", "baker", "test-connection", "--no-ci", "-f", str(manifest)],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
    finally:
        listener.close()
    assert child.returncode != 0
    assert sent[0] <= SENT_BOUND, f"baker read {sent[0] >> 20} MiB of the vault's 3xx bodies"

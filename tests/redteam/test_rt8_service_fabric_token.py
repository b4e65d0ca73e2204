"""Red-team round 8, finding rt8-3: on Service Fabric the managed identity access token is never
registered with the Redactor when the vault's host does not tell its scope (an IP address, a custom
name: `provider.scope_for` is None, so `sign_in` does not fetch and register it; the vault's
challenge has the token fetched).  Every other sign-in registers each token answer in azure-core's
`raw_response_hook` (`keyless.register_tokens`), but azure-identity hands Service Fabric's request
to MSAL on a derived requests session and ignores `raw_response_hook` (it warns so), and
`keyless.DeadlinedCredential` returns the token without registering it.  So a vault (or whatever
answers for it) that quotes the request's token in an error message has the access token printed
whole, in human output, no --debug needed (`[missing-role] ... 403 Forbidden: ...`).  Severity: low
to medium; the Redactor's `_TOKENISH` pattern still masks a JWT-shaped token (what Entra hands out),
and `Bearer <token>` is masked by shape: the canary here is opaque, as a Service Fabric endpoint or a
proxy in front of it may answer.  (The same holds for a token MSAL fetches again later in a long run.)

Stand-ins: the pinned loopback TLS Service Fabric endpoint of test_rt6_netrc (answering a token,
the canary), and a loopback TLS vault at a custom name (its certificate in REQUESTS_CA_BUNDLE, as
a runner's CA) that challenges, then answers 403 quoting the token.

Fixed: `DeadlinedCredential` (or the provider) registers every token it hands out."""

from __future__ import annotations

import datetime
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.redteam.test_rt6_netrc import _certificate, _TlsRecorder

VAULT_HOST = "kv.rt8.localhost"  # a custom name: `provider.scope_for` cannot tell its scope
RESOURCE = "https://rt8.localhost"  # the challenge's resource: the vault's host ends with .rt8.localhost

CANARY = "rt8-sf-access-token-canary-9c41d7e2"
IDENTITY_HEADER = "rt8-identity-header-canary-77aa"


def _vault_certificate(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A self-signed certificate for VAULT_HOST (trusted as a runner's CA bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, VAULT_HOST)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(VAULT_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem, key_path = tmp_path / "vault.pem", tmp_path / "vault.key"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem, key_path)
    return context, pem


class _EchoingVault(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        port = (self.headers.get("Host") or "").rpartition(":")[2]
        if not auth:
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate",
                'Bearer authorization="https://login.microsoftonline.com/rt8-tenant", '
                f'resource="{RESOURCE}:{port}"',
            )
            body = b'{"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer"}}'
        else:
            self.send_response(403)
            message = f"Caller is not authorized; its token was {auth.split()[-1]!r}"
            body = json.dumps({"error": {"code": "Forbidden", "message": message}}).encode()
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.mark.parametrize("command", ["test-connection", "render"])
def test_rt8_3_a_service_fabric_access_token_a_vault_quotes_back_is_masked(
    tmp_path: Path, command: str
) -> None:
    context, thumbprint = _certificate(tmp_path)
    token = json.dumps(
        {
            "access_token": CANARY,
            "expires_on": int(time.time()) + 3600,
            "token_type": "Bearer",
            "resource": RESOURCE,
        }
    ).encode()
    endpoint = _TlsRecorder(
        "127.0.0.1",
        context,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(token)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + token,
    )
    vault = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoingVault)
    vault_context, vault_pem = _vault_certificate(tmp_path)
    vault.socket = vault_context.wrap_socket(vault.socket, server_side=True)
    threading.Thread(target=vault.serve_forever, daemon=True).start()
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage:\n  from: busybox:latest\n  tag: rt8/sf:1\n"
        "credentials:\n  sf:\n    provider: azure-key-vault\n"
        f"    vault_url: https://{VAULT_HOST}:{vault.server_address[1]}\n"
        "    auth: managed-identity\n    default: true\n"
        "env:\n  ONE: {secret: one}\n",
        encoding="utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_FEDERATED_TOKEN_FILE")
    }
    env.update(
        {
            "IDENTITY_ENDPOINT": f"{endpoint.origin}/token",
            "IDENTITY_HEADER": IDENTITY_HEADER,
            "IDENTITY_SERVER_THUMBPRINT": thumbprint,
            "REQUESTS_CA_BUNDLE": str(vault_pem),  # the vault's certificate, as a runner's CA
        }
    )
    args = ["test-connection"] if command == "test-connection" else ["render", "--out", str(tmp_path / "out")]
    try:
        child = subprocess.run(
            [sys.executable, "-m", "baker", *args, "--no-ci", "--debug", "-f", str(manifest)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    finally:
        vault.shutdown()
        endpoint.close()
    assert endpoint.heads, f"the Service Fabric endpoint was never asked: {child.stderr}"
    assert child.returncode != 0
    assert CANARY not in child.stdout + child.stderr

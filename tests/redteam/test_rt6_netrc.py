"""Red team round 6 on `~/.netrc` (83a52c9, `proxies.NO_NETRC`): keyless sign-in that leaves baker's
transport.

azure-identity's Service Fabric managed identity hands its transport's `requests.Session` to MSAL,
which derives a session of its own from it (`msal.managed_identity._create_service_fabric_http_client`:
its adapter must be an `HTTPAdapter`, and the derived session follows redirects inside requests,
whose `rebuild_auth` reads `.netrc` whatever the session's auth).  Stand-ins: a loopback TLS
endpoint (127.0.0.1) that answers 307 to a second one (127.0.0.2) with the same certificate, the
certificate pinned by IDENTITY_SERVER_THUMBPRINT as Service Fabric does.

Each test states what should hold; it was xfail(strict) until its finding was fixed."""

from __future__ import annotations

import base64
import datetime
import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from baker.cli import main

NETRC_PASSWORD = "rt6-netrc-canary-0b7d51"
MACHINE_PASSWORD = "rt6-netrc-machine-canary-e2a9"
IDENTITY_HEADER = "rt6-identity-header-canary-44c0"


@pytest.fixture
def netrc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$HOME/.netrc with a `default` entry and one for 127.0.0.2 (the redirect's target)."""
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(
        f"machine 127.0.0.2 login m-user password {MACHINE_PASSWORD}\n"
        f"default login netrc-user password {NETRC_PASSWORD}\n",
        encoding="utf-8",
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    assert requests.utils.get_netrc_auth("https://127.0.0.2/") == ("m-user", MACHINE_PASSWORD)  # premise


class _TlsRecorder:
    """A loopback TLS listener on `host` that keeps each request's head and answers `answer`."""

    def __init__(self, host: str, context: ssl.SSLContext, answer: bytes) -> None:
        self._sock = socket.socket()
        self._sock.bind((host, 0))
        self._sock.listen(8)
        self.origin = f"https://{host}:{self._sock.getsockname()[1]}"
        self.heads: list[bytes] = []
        self.answer = answer
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
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    self.heads.append(tls.recv(65536).split(b"\r\n\r\n", 1)[0])
                    tls.sendall(self.answer)
            except OSError:
                conn.close()

    def close(self) -> None:
        self._sock.close()


def _certificate(tmp_path: Path) -> tuple[ssl.SSLContext, str]:
    """A self-signed certificate for 127.0.0.1 and 127.0.0.2; its SHA-1 thumbprint."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rt6-service-fabric")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.2")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "sf.pem", tmp_path / "sf.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, hashlib.sha1(
        cert.public_bytes(serialization.Encoding.DER), usedforsecurity=False
    ).hexdigest()


@pytest.fixture
def service_fabric(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[_TlsRecorder, _TlsRecorder]]:
    """IDENTITY_ENDPOINT on 127.0.0.1, whose every answer is a 307 to the same path on 127.0.0.2."""
    context, thumbprint = _certificate(tmp_path)
    target = _TlsRecorder(
        "127.0.0.2", context, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    endpoint = _TlsRecorder(
        "127.0.0.1",
        context,
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: "
        + f"{target.origin}/token".encode()
        + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    for name in ("MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{endpoint.origin}/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    monkeypatch.setenv("IDENTITY_SERVER_THUMBPRINT", thumbprint)
    try:
        yield endpoint, target
    finally:
        endpoint.close()
        target.close()


def test_rt6_4_service_fabric_managed_identity_signs_in_with_no_netrc_login(
    netrc_home: None,
    service_fabric: tuple[_TlsRecorder, _TlsRecorder],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A `managed-identity` credential on Service Fabric (IDENTITY_ENDPOINT + IDENTITY_HEADER +
    IDENTITY_SERVER_THUMBPRINT, as `baker.manifest.token_sources` names it): MSAL refuses baker's
    session ("Service Fabric managed identity requires an HTTPAdapter or subclass": its adapters
    are `proxies.DirectToLoopback`), so the endpoint is never asked.  Once it is, no request may
    carry a `.netrc` login, nor follow the endpoint's redirect to another host with the identity
    header (MSAL's derived session follows redirects inside requests, which reads `.netrc` there)."""
    endpoint, target = service_fabric
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage:\n  from: busybox:latest\n  tag: rt6/sf:1\n"
        "credentials:\n  sf:\n    provider: azure-key-vault\n    vault_url: https://sf.vault.localhost:9\n"
        "    auth: managed-identity\n    default: true\n"
        "env:\n  ONE: {secret: one}\n",
        encoding="utf-8",
    )
    main(["test-connection", "--no-ci", "-f", str(manifest)])
    out, err = capsys.readouterr()
    assert endpoint.heads, f"the Service Fabric endpoint was never asked:\n{out}{err}"
    heads = endpoint.heads + target.heads
    for head in heads:
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"authorization" and value.strip().lower().startswith(b"basic "):
                decoded = base64.b64decode(value.strip()[6:])
                assert NETRC_PASSWORD.encode() not in decoded and MACHINE_PASSWORD.encode() not in decoded
    assert not [head for head in target.heads if IDENTITY_HEADER.encode() in head], "followed to 127.0.0.2"

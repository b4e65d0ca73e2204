"""The emulator's own certificate authority and server certificate.

Made fresh at every start with `cryptography` (EC P-256: key generation takes milliseconds, so a
pytest fixture can afford one CA per test).  Only `ca.pem` is meant for clients; the server key is
written owner-only because `ssl.SSLContext.load_cert_chain` reads files, never memory.  `trust.pem`,
written when `baker emulator` prints its banner, is the system's CAs plus `ca.pem`: what a shell
exports, so the emulator's CA is trusted alongside every other, never instead of them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
_CERT_FILE = "server.pem"
_KEY_FILE = "server-key.pem"


def server_names(vaults: Iterable[str]) -> list[str]:
    """Every DNS name the server certificate must cover (the demo world: emulator/demo.py,
    examples/world.yaml)."""
    names = ["localhost", "login.localhost", "vault.localhost", "*.vault.localhost"]
    names += ["oidc.localhost", "github.localhost", "devops.localhost", "identity.localhost"]
    names += [f"{v}.vault.localhost" for v in vaults]
    return list(dict.fromkeys(names))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "baker emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def make_tls(state_dir: Path, vaults: Iterable[str]) -> tuple[Path, ssl.SSLContext]:
    """Create the CA and a server certificate in `state_dir`; return (ca.pem, server context)."""
    now = dt.datetime.now(dt.timezone.utc)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("baker emulator local CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names(vaults)]
    sans += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    ca_path = state_dir / CA_FILE
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    cert_path = state_dir / _CERT_FILE
    cert_path.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_path = state_dir / _KEY_FILE
    _write_private(
        key_path,
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return ca_path, context


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Signatures for both; certificate and CRL signing for the CA only."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


TRUST_FILE = "trust.pem"
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)


def system_ca_files(environ: Mapping[str, str]) -> list[Path]:
    """The CA files a shell's TLS clients trust before the emulator's banner changes anything:

    - what requests (and so the Azure SDK) verifies with: `REQUESTS_CA_BUNDLE`, else `CURL_CA_BUNDLE`,
      else certifi's bundle (`requests.utils.DEFAULT_CA_BUNDLE_PATH` is `certifi.where()`);
    - what OpenSSL's default verify paths load (Python's `ssl.create_default_context()`, pip, curl
      built on OpenSSL): `SSL_CERT_FILE`, else OpenSSL's compiled-in file, on Debian
      /usr/lib/ssl/cert.pem -> /etc/ssl/certs/ca-certificates.crt.

    Only files that exist (a directory of hashed certificates, `SSL_CERT_DIR`, is not a bundle and is
    left as it is: the banner does not export that variable)."""
    # Guards: certifi (requests' own dependency) is read only when a banner asks for a bundle.
    import certifi

    for_requests = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or certifi.where()
    paths = ssl.get_default_verify_paths()
    for_openssl = environ.get("SSL_CERT_FILE") or paths.openssl_cafile
    found: list[Path] = []
    for name in (for_requests, for_openssl):
        path = Path(name)
        if path.is_file() and path not in found:
            found.append(path)
    return found


def write_trust_bundle(state_dir: Path, ca_file: Path, environ: Mapping[str, str]) -> Path:
    """A bundle a whole shell can trust (`TRUST_FILE` in `state_dir`): the system's CAs
    (`system_ca_files`), each certificate once, then the emulator's CA, so exporting it as
    `SSL_CERT_FILE`/`REQUESTS_CA_BUNDLE` reaches the emulator without breaking pip or any other TLS
    client in that shell."""
    seen: set[bytes] = set()
    blocks: list[bytes] = []
    for path in [*system_ca_files(environ), ca_file]:
        for match in _PEM_CERT.finditer(path.read_bytes()):
            block = match.group(0).replace(b"\r\n", b"\n")
            if block not in seen:
                seen.add(block)
                blocks.append(block)
    bundle = state_dir / TRUST_FILE
    bundle.write_bytes(b"\n".join(blocks) + b"\n")  # certificates only, as ca.pem
    return bundle

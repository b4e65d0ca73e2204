"""Certificates as Key Vault stores them, made for the world file's `certificates:` (and for tests).

Key Vault keeps a certificate's key and chain as a secret of the certificate's name, in the
policy's content type: `application/x-pkcs12` (the PFX, no password, base64) or
`application/x-pem-file` (the PKCS#8 private key, then the certificates, leaf first).  `make`
builds a self-made chain (root CA, intermediate CA, leaf) with `cryptography`; `key: ec` is P-256,
`key: rsa` RSA 2048.
"""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from baker.record import Record

PKCS12 = "application/x-pkcs12"
PEM = "application/x-pem-file"
FORMATS = {"pkcs12": PKCS12, "pem": PEM}
KEYS = ("ec", "rsa")

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class Made(Record):
    """The secret's value and content type, and the parts (for tests to check against)."""

    value: str
    content_type: str
    key: Key
    chain: tuple[x509.Certificate, ...]  # leaf first, then the intermediate, then the root


def _key(kind: str) -> Key:
    return ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)


def _cert(subject: str, key: Key, issuer: str, signer: Key, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


def make(subject: str, *, key: str = "ec", form: str = "pkcs12", chain: bool = True) -> Made:
    """A certificate for `subject` (leaf, and with `chain` an intermediate and a root CA) stored as
    Key Vault stores it in `form` (`pkcs12` or `pem`)."""
    leaf_key = _key(key)
    if chain:
        root_key, inter_key = _key(key), _key(key)
        root = _cert(f"{subject} root CA", root_key, f"{subject} root CA", root_key, ca=True)
        inter = _cert(f"{subject} intermediate CA", inter_key, f"{subject} root CA", root_key, ca=True)
        leaf = _cert(subject, leaf_key, f"{subject} intermediate CA", inter_key, ca=False)
        certs: tuple[x509.Certificate, ...] = (leaf, inter, root)
    else:
        certs = (_cert(subject, leaf_key, subject, leaf_key, ca=False),)
    if form == "pkcs12":
        pfx = pkcs12.serialize_key_and_certificates(
            None, leaf_key, certs[0], list(certs[1:]), serialization.NoEncryption()
        )
        value = base64.b64encode(pfx).decode("ascii")
    else:
        pem = leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        pem += b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
        value = pem.decode("ascii")
    return Made(value, FORMATS[form], leaf_key, certs)

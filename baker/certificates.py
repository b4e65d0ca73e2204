"""A Key Vault certificate's secret, in the form a manifest asks for.  The only module of baker's (the
emulator aside) that imports `cryptography`; pure: no I/O.

Key Vault keeps a certificate's key and chain as a secret of the certificate's name, in the policy's
content type (the secret's `contentType`, the SDK's `properties.content_type`):

- `application/x-pkcs12`: the value is the PFX, base64, with no password;
- `application/x-pem-file`: the value is PEM text, the private key and the certificates.

Forms (`CERT_FORMATS`): `pem` = the key (PKCS#8 PEM) then the chain, `cert` = the chain, `key` = the
key, `pfx-base64` = a PFX secret as stored (a PEM secret is packed into a password-less PFX).  The
chain is in the order stored: the leaf (the certificate of the key) first, then the others as the
PFX's bag or the PEM file holds them.

No message raised here holds any part of a value; `cryptography`'s own errors are dropped, not
quoted (they may echo input).
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from baker.secret import Secret

PKCS12 = "application/x-pkcs12"
PEM = "application/x-pem-file"
# The key types a PFX can hold (and `pfx-base64` can pack).
Key = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)
CONTENT_TYPES = (PKCS12, PEM)


class NotACertificate(ValueError):
    """The secret is not a certificate Key Vault stored, or its value cannot be read as one.
    The message names the content type, never the value."""


def convert(value: Secret, content_type: str | None, form: str) -> Secret:
    """The certificate held by `value` (a secret of `content_type`) in `form`."""
    kind = (content_type or "").strip().lower()
    if kind not in CONTENT_TYPES:
        # Key Vault's text, shown capped (the output layer escapes what a terminal or CI would obey).
        shown = repr(content_type[:100]) if content_type else "none"
        raise NotACertificate(
            f"is not a certificate: its content type is {shown}, not {PKCS12} or {PEM} "
            "(Key Vault sets one of these on a certificate's secret)"
        )
    if kind == PKCS12 and form == "pfx-base64":
        return value
    key, chain = _read_pkcs12(value) if kind == PKCS12 else _read_pem(value)
    if form == "pfx-base64":
        leaf, *others = chain
        pfx = pkcs12.serialize_key_and_certificates(None, key, leaf, others, serialization.NoEncryption())
        return Secret(base64.b64encode(pfx).decode("ascii"))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain_pem = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)
    out = {"key": key_pem, "cert": chain_pem, "pem": key_pem + chain_pem}[form]
    return Secret(out.decode("ascii"))


def _read_pkcs12(value: Secret) -> tuple[Key, list[x509.Certificate]]:
    try:
        der = base64.b64decode(value.reveal().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise NotACertificate(f"has content type {PKCS12} but its value is not base64") from None
    try:
        key, leaf, others = pkcs12.load_key_and_certificates(der, None)
    except (ValueError, TypeError):
        raise NotACertificate(
            f"has content type {PKCS12} but its value is not a PFX without a password"
        ) from None
    if key is None or leaf is None:
        raise NotACertificate(f"has content type {PKCS12} but its PFX holds no private key and certificate")
    return _supported(key, PKCS12), [leaf, *others]


def _supported(key: object, kind: str) -> Key:
    if not isinstance(
        key,
        (
            rsa.RSAPrivateKey,
            ec.EllipticCurvePrivateKey,
            ed25519.Ed25519PrivateKey,
            ed448.Ed448PrivateKey,
            dsa.DSAPrivateKey,
        ),
    ):
        raise NotACertificate(f"has content type {kind} but its key is of a type a certificate cannot hold")
    return key


def _read_pem(value: Secret) -> tuple[Key, list[x509.Certificate]]:
    data = value.reveal().encode("utf-8", "surrogateescape")
    try:
        key = _supported(serialization.load_pem_private_key(data, None), PEM)
    except (ValueError, TypeError):
        raise NotACertificate(f"has content type {PEM} but holds no private key without a password") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise NotACertificate(f"has content type {PEM} but holds no certificate") from None
    # The leaf (the key's certificate) first, then the others in the order stored.
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    leaf = [
        c
        for c in certs
        if c.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public
    ]
    if not leaf:
        raise NotACertificate(f"has content type {PEM} but no certificate matches its private key")
    return key, [leaf[0], *(c for c in certs if c is not leaf[0])]

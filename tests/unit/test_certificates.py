"""baker.certificates: a certificate's secret (PKCS#12 or PEM, by content type) in each form, checked
with `cryptography`; what is not a certificate is refused naming its content type, never its value."""

from __future__ import annotations

import base64
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from baker.certificates import PEM, PKCS12, NotACertificate, convert
from baker.emulator.certs import Made, make
from baker.secret import Secret

DER, SPKI = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo


@cache
def made(key: str, form: str) -> Made:
    return make(f"{key}.{form}.test", key=key, form=form)


@pytest.mark.parametrize("key", ["ec", "rsa"])
@pytest.mark.parametrize("form", ["pkcs12", "pem"])
def test_each_form_holds_the_key_of_the_leaf_and_the_chain_in_the_order_stored(key: str, form: str) -> None:
    stored = made(key, form)
    value = Secret(stored.value)
    out = {f: convert(value, stored.content_type, f).reveal() for f in ("pem", "cert", "key", "pfx-base64")}
    chain = x509.load_pem_x509_certificates(out["cert"].encode())
    assert chain == list(stored.chain)
    private = serialization.load_pem_private_key(out["key"].encode(), None)
    assert private.public_key().public_bytes(DER, SPKI) == chain[0].public_key().public_bytes(DER, SPKI)
    assert out["key"].startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert out["pem"] == out["key"] + out["cert"]
    pfx_key, leaf, others = pkcs12.load_key_and_certificates(base64.b64decode(out["pfx-base64"]), None)
    assert leaf == chain[0] and others == chain[1:] and pfx_key is not None


def test_a_pem_secret_with_the_leaf_after_its_issuers_gives_the_leaf_first() -> None:
    stored = made("ec", "pem")
    key_pem = stored.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # intermediate, leaf, root: the leaf (the key's certificate) comes first, the rest as stored
    shuffled = [stored.chain[1], stored.chain[0], stored.chain[2]]
    text = key_pem + "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in shuffled)
    chain = x509.load_pem_x509_certificates(convert(Secret(text), PEM, "cert").reveal().encode())
    assert chain == [stored.chain[0], stored.chain[1], stored.chain[2]]


@pytest.mark.parametrize(
    ("value", "content_type", "says"),
    [
        ("SECRET-plain-value-1", None, "its content type is none"),
        ("SECRET-plain-value-1", "text/plain", "its content type is 'text/plain'"),
        ("SECRET-not-base64-!!", PKCS12, "not base64"),
        (base64.b64encode(b"SECRET-not-a-pfx").decode(), PKCS12, "not a PFX without a password"),
        ("SECRET-no-pem-here", PEM, "holds no private key"),
    ],
)
def test_what_is_not_a_certificate_is_refused_naming_the_content_type_never_the_value(
    value: str, content_type: str | None, says: str
) -> None:
    with pytest.raises(NotACertificate) as caught:
        convert(Secret(value), content_type, "pem")
    assert says in str(caught.value)
    assert "SECRET" not in str(caught.value) and caught.value.__cause__ is None


def test_a_pem_secret_whose_certificates_do_not_match_its_key_is_refused() -> None:
    one, other = made("ec", "pem"), made("rsa", "pem")
    key_pem = one.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert = other.chain[0].public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(NotACertificate, match="no certificate matches its private key"):
        convert(Secret(key_pem + cert), PEM, "key")

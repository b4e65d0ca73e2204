"""Canaries for a swapped variable: the client secret's variable written where an id or a URL was
meant (`tenant_id: ${AZURE_CLIENT_SECRET}`, `client_id: ...`, inside `vault_url` or
`authority_host`).  Every command, at every verbosity, must print no form of it: not as written,
not lower-cased by a host name, not upper-cased, not percent-encoded.

Real parts only: the emulator over TLS with the unmodified SDK, and a real Docker engine (for an
image that `check` can read).  Helpers come from `test_canaries`.

An authority host holding the secret points at `refusing_authority`: a loopback TLS server with a
certificate for those very host names that answers every request 400, so Entra's discovery fails at
once (MSAL names the URL, host lower-cased, in its error).  An unreachable authority would fail the
same commands too, but only after azure-core's connection retries (about 5 s of backoff a command,
a minute a case); one test keeps that road, once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from baker import urls
from baker.emulator import Emulator
from tests.integration.test_canaries import APP, CLIENT_SECRET, TENANT, _manifest, _run, canary_emulator
from tests.support.fixtures_docker import ImageNames

__all__ = ["canary_emulator"]  # the fixture, imported to be used here

# What an Entra client secret looks like (`~`, `.`, `_`, mixed case), and one a host name can hold.
SWAPPED = {
    "entra-like": "Qz8Q~CanarySwap.Secret_7Xw-Vk2",
    "host-like": "CanarySwapHost-Qz7Xw9Vk",
}


def _case_forms(value: str) -> set[str]:
    """The value in every case a host name or URL may give it, and percent-encoded in each."""
    forms: set[str] = set()
    for cased in {value, value.lower(), value.upper(), value.casefold()}:
        forms |= {cased, json.dumps(cased)[1:-1], urllib.parse.quote(cased, safe="")}
        forms.add(urllib.parse.quote(cased, safe="").lower())
    return forms


def _leaks(text: str, needles: set[str]) -> list[str]:
    return sorted(n for n in needles if n in text)


def _certificate(
    names: list[str], issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A CA (no `issuer`) or a server certificate for `names`, signed by `issuer`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "refusing authority" if names else "test CA")]
    )
    signer_name, signer_key = issuer or (subject, key)
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        )
    return builder.sign(signer_key, hashes.SHA256()), key


def _refused_offline(canary: str) -> bool:
    """Whether `https://{canary}.localhost` is a URL baker refuses to read (`baker.urls`)."""
    try:
        urls.parse(f"https://{canary}.localhost:1/")
    except urls.UrlError:
        return True
    return False


@pytest.fixture
def refusing_authority(
    canary_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[int, list[str]]]:
    """A loopback TLS server trusted for `https://{canary}.localhost` (each canary, lower-cased, as
    the URL stack makes it) that answers everything 400: its port, and the paths asked of it.  The
    emulator stays trusted."""
    asked: list[str] = []
    ca, ca_key = _certificate([], None)
    names = [f"{canary.lower()}.localhost" for canary in SWAPPED.values()]
    leaf, leaf_key = _certificate(names, (ca.subject, ca_key))
    pem = serialization.Encoding.PEM
    (tmp_path / "authority.pem").write_bytes(
        leaf.public_bytes(pem)
        + leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    trusted = tmp_path / "trusted.pem"
    trusted.write_bytes(canary_emulator.ca_bundle.read_bytes() + ca.public_bytes(pem))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(trusted))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "authority.pem")

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            asked.append(self.path)
            body = b'{"error":"invalid_request"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _refuse

        def log_message(self, format: str, *args: Any) -> None:
            pass

    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)]
    with contextlib.suppress(OSError):  # *.localhost resolves to ::1 first: be there too when we can
        servers.append(_IPv6Server(("::1", servers[0].server_address[1]), Refuse))
    for server in servers:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield servers[0].server_address[1], asked
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


class _IPv6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _credential(emu: Emulator, placement: str, *, secret_var: str, authority_port: int | None = None) -> str:
    """The credentials block with ${AZURE_CLIENT_SECRET} swapped into `placement` (an authority host
    on `authority_port`, default the emulator's)."""
    port = emu.port
    fields = {
        "vault_url": emu.vault_url("canary"),
        "tenant_id": TENANT,
        "client_id": APP,
        "client_secret": f"${{{secret_var}}}",
    }
    if placement == "tenant_id":
        fields["tenant_id"] = "${AZURE_CLIENT_SECRET}"
    elif placement == "client_id":
        fields["client_id"] = "${AZURE_CLIENT_SECRET}"
    elif placement == "vault_url":
        fields["vault_url"] = f"https://${{AZURE_CLIENT_SECRET}}.vault.localhost:{port}"
    elif placement == "authority_host":
        fields["authority_host"] = f"https://${{AZURE_CLIENT_SECRET}}.localhost:{authority_port or port}"
    body = "".join(f"    {key}: {value}\n" for key, value in fields.items())
    return f"credentials:\n  canary:\n    provider: azure-key-vault\n{body}    default: true\n"


PLACEMENTS = ["tenant_id", "client_id", "vault_url", "authority_host"]
VERBOSITIES = [[], ["--debug"], ["--json"]]


@pytest.mark.parametrize("kind", sorted(SWAPPED))
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_client_secret_swapped_into_a_credential_field_is_never_printed(
    placement: str,
    kind: str,
    canary_emulator: Emulator,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    canary = SWAPPED[kind]
    authority, asked = (
        request.getfixturevalue("refusing_authority") if placement == "authority_host" else (None, [])
    )
    tag = image_names("swapped")
    # An image `check` can read, baked with the working credential first.
    good = _manifest(tmp_path / "good.yaml", canary_emulator, busybox_base, tag)
    assert _run(capfd, ["build", "-f", str(good)])[0] == 0

    # The swap: the secret's variable feeds `placement`; the credential's client_secret reads
    # another variable (which holds the working secret, so only the swap itself can fail).
    monkeypatch.setenv("AZURE_CLIENT_SECRET", canary)
    monkeypatch.setenv("REAL_CLIENT_SECRET", CLIENT_SECRET)
    text = good.read_text(encoding="utf-8")
    start, end = text.index("credentials:"), text.index("env:")
    swapped = tmp_path / "baker.yaml"
    credentials = _credential(
        canary_emulator, placement, secret_var="REAL_CLIENT_SECRET", authority_port=authority
    )
    swapped.write_text(text[:start] + credentials + text[end:], encoding="utf-8")
    manifest = str(swapped)

    runs = {
        "validate": ["validate", "-f", manifest],
        "plan": ["plan", "-f", manifest],
        "test-connection": ["test-connection", "-f", manifest],
        "render": ["render", "-f", manifest, "--out", str(tmp_path / "rendered")],
        "check": ["check", "-f", manifest, "--image", tag],
        "secrets list": ["secrets", "list", "-f", manifest],
    }
    needles = _case_forms(canary)
    leaks: dict[str, list[str]] = {}
    internal: list[str] = []
    for verbosity in VERBOSITIES:
        for name, args in runs.items():
            run = f"{name} {' '.join(verbosity)}".strip()
            _, output = _run(capfd, [*args, *verbosity])
            if _leaks(output, needles):
                leaks[run] = _leaks(output, needles)
            if "internal error" in output or "InternalError" in output:
                internal.append(run)
    assert leaks == {}
    assert internal == []
    # The sign-ins reached the refusing authority, unless the canary cannot be a host name at all
    # (`~`, `_`): then the manifest refuses the URL offline (baker.urls), before any sign-in.
    assert bool(asked) == (placement == "authority_host" and not _refused_offline(canary))


@pytest.mark.parametrize("placement", ["vault_url", "authority_host"])
def test_a_client_secret_also_used_in_a_host_is_masked_in_every_case(
    placement: str,
    canary_emulator: Emulator,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The same variable is the client secret (registered as written) and part of a host name,
    which the URL stack lower-cases: a case-sensitive Redactor missed that form."""
    canary = SWAPPED["host-like"]
    authority, asked = (
        request.getfixturevalue("refusing_authority") if placement == "authority_host" else (None, [])
    )
    monkeypatch.setenv("AZURE_CLIENT_SECRET", canary)
    path = _manifest(tmp_path / "good.yaml", canary_emulator, "unused:1", "unused:2")
    text = path.read_text(encoding="utf-8")
    start, end = text.index("credentials:"), text.index("env:")
    credentials = _credential(
        canary_emulator, placement, secret_var="AZURE_CLIENT_SECRET", authority_port=authority
    )
    path.write_text(text[:start] + credentials + text[end:], encoding="utf-8")
    outputs: dict[str, Any] = {}
    for verbosity in VERBOSITIES:
        for args in (["plan"], ["test-connection"], ["secrets", "list"]):
            _, output = _run(capfd, [*args, "-f", str(path), *verbosity])
            outputs[" ".join([*args, *verbosity])] = _leaks(output, _case_forms(canary))
    assert {run: found for run, found in outputs.items() if found} == {}
    assert bool(asked) == (placement == "authority_host")


@pytest.mark.parametrize("json_mode", [[], ["--json"]], ids=["human", "json"])
@pytest.mark.parametrize(
    "words", [[CLIENT_SECRET], ["secrets", CLIENT_SECRET]], ids=["command", "subcommand"]
)
def test_a_client_secret_pasted_as_the_command_word_is_never_printed(
    words: list[str], json_mode: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    code, output = _run(capfd, [*words, *json_mode])
    assert code == 2
    assert _leaks(output, _case_forms(CLIENT_SECRET)) == []
    assert "invalid choice" in output


@pytest.mark.parametrize("kind", sorted(SWAPPED))
def test_an_unreachable_authority_holding_the_secret_is_never_printed(
    kind: str,
    canary_emulator: Emulator,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The road `refusing_authority` shortens: the authority's name is not on any certificate here,
    so the sign-in fails in TLS after azure-core's connection retries, with the host (lower-cased) in
    the exception's text that --debug prints.  Once per canary, at the verbosity that shows most."""
    canary = SWAPPED[kind]
    monkeypatch.setenv("AZURE_CLIENT_SECRET", canary)
    monkeypatch.setenv("REAL_CLIENT_SECRET", CLIENT_SECRET)
    path = _manifest(tmp_path / "baker.yaml", canary_emulator, "unused:1", "unused:2")
    text = path.read_text(encoding="utf-8")
    start, end = text.index("credentials:"), text.index("env:")
    credentials = _credential(canary_emulator, "authority_host", secret_var="REAL_CLIENT_SECRET")
    path.write_text(text[:start] + credentials + text[end:], encoding="utf-8")
    code, output = _run(capfd, ["test-connection", "-f", str(path), "--debug"])
    if _refused_offline(canary):  # not a host name: refused offline, naming the key, never the URL
        assert code == 2
        assert "authority_host" in output
    else:
        assert code == 1
        assert "CERTIFICATE_VERIFY_FAILED" in output  # the road taken: TLS to a name no certificate has
    assert _leaks(output, _case_forms(canary)) == []

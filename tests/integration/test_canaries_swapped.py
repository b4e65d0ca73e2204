"""Canaries for a swapped variable: the client secret's variable written where an id or a URL was
meant (`tenant_id: ${AZURE_CLIENT_SECRET}`, `client_id: ...`, inside `vault_url` or
`authority_host`).  Every command, at every verbosity, must print no form of it: not as written,
not lower-cased by a host name, not upper-cased, not percent-encoded.

Real parts only: the emulator over TLS with the unmodified SDK, and a real Docker engine (for an
image that `check` can read).  Helpers come from `test_canaries`.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

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


def _credential(emu: Emulator, placement: str, *, secret_var: str) -> str:
    """The credentials block with ${AZURE_CLIENT_SECRET} swapped into `placement`."""
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
        fields["authority_host"] = f"https://${{AZURE_CLIENT_SECRET}}.localhost:{port}"
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
) -> None:
    canary = SWAPPED[kind]
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
    credentials = _credential(canary_emulator, placement, secret_var="REAL_CLIENT_SECRET")
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


@pytest.mark.parametrize("placement", ["vault_url", "authority_host"])
def test_a_client_secret_also_used_in_a_host_is_masked_in_every_case(
    placement: str,
    canary_emulator: Emulator,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same variable is the client secret (registered as written) and part of a host name,
    which the URL stack lower-cases: a case-sensitive Redactor missed that form."""
    canary = SWAPPED["host-like"]
    monkeypatch.setenv("AZURE_CLIENT_SECRET", canary)
    path = _manifest(tmp_path / "good.yaml", canary_emulator, "unused:1", "unused:2")
    text = path.read_text(encoding="utf-8")
    start, end = text.index("credentials:"), text.index("env:")
    credentials = _credential(canary_emulator, placement, secret_var="AZURE_CLIENT_SECRET")
    path.write_text(text[:start] + credentials + text[end:], encoding="utf-8")
    outputs: dict[str, Any] = {}
    for verbosity in VERBOSITIES:
        for args in (["plan"], ["test-connection"], ["secrets", "list"]):
            _, output = _run(capfd, [*args, "-f", str(path), *verbosity])
            outputs[" ".join([*args, *verbosity])] = _leaks(output, _case_forms(canary))
    assert {run: found for run, found in outputs.items() if found} == {}


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

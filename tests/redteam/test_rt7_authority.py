"""Red team round 7 on the Entra authority (11e996a: always passed, as the manifest's checks read it).

Each finding is an xfail(strict) reproduction: it fails (XPASS) once fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

import baker
from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from tests.support.fixtures_emulator import emulator
from tests.support.manifests import azure_credential, write_manifest

__all__ = ["emulator"]  # the fixture


@pytest.mark.emulator
# MSAL_FORCE_REGION moves it the same way (seen by the red team); one variable in the suite (each
# run waits ~10 s on the unreachable regional host).
@pytest.mark.parametrize("variable", ["AZURE_REGIONAL_AUTHORITY_NAME"])
@pytest.mark.xfail(
    strict=True,
    reason="rt7-5: azure-identity/MSAL read a region from os.environ and sign in at <region>.<authority>",
)
def test_rt7_5_the_sign_in_goes_to_the_authority_baker_checked_whatever_region_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Emulator, variable: str
) -> None:
    """rt7-5 (low): 11e996a names the authority to azure-identity so that the sign-in (the client
    secret in its body) goes only where the manifest's checks looked.  azure-identity still reads
    AZURE_REGIONAL_AUTHORITY_NAME, and MSAL MSAL_FORCE_REGION, from `os.environ` (neither is read by
    baker, nor in the environment a Python API caller loaded with): MSAL then sends the sign-in to a
    regional host, `<region>.<the authority's host>` for any authority but the public cloud's
    (`ClientApplication._get_regional_authority`), a host baker never checked.  Here the emulator's
    authority (login.localhost:PORT): the sign-in goes to rt7x.login.localhost:PORT and fails;
    without the variable the same load resolves."""
    for name, value in emulator.client_env().items():
        monkeypatch.setenv(name, value)  # the emulator's CA and authority
    monkeypatch.setenv(variable, "rt7x")
    credential = azure_credential(emulator.vault_url("demo"), TENANT, CLIENT_ID)
    manifest = write_manifest(
        tmp_path, base="busybox:1", credentials={"kv": credential}, env={"A": {"secret": "openai-api-key"}}
    )
    environ = {**emulator.client_env(), "AZURE_CLIENT_SECRET": CLIENT_SECRET}
    loaded = baker.load(manifest, environ=environ)
    assert loaded.credentials["kv"].authority_host == emulator.authority_host  # as checked
    resolved = baker.resolve(loaded)  # the sign-in at the authority checked answers
    assert [r.env for r in resolved.entries] == ["A"]

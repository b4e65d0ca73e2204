"""The authority baker signs in at is the one it checked: the manifest's `authority_host`, else
AZURE_AUTHORITY_HOST from the environment the manifest was loaded with, else the public cloud.
azure-identity falls back to `os.environ`'s AZURE_AUTHORITY_HOST by itself when no authority is
passed, so a Python API caller loading with an `environ` of its own had the sign-in (the client
secret in its body) sent to an authority baker never read nor checked (noted at issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

import baker
from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from baker.errors import BakerError
from tests.support.fixtures_emulator import emulator
from tests.support.listeners import Recorder
from tests.support.manifests import azure_credential, write_manifest

__all__ = ["emulator"]  # the fixture


@pytest.mark.emulator
def test_a_python_api_load_signs_in_at_the_authority_it_checked_not_at_os_environ_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    """The vault answers (the emulator: its challenge comes first), then the sign-in: with no
    authority passed, azure-identity took os.environ's, here a listener on 127.0.0.2."""
    elsewhere = Recorder("127.0.0.2")
    for name, value in emulator.client_env().items():
        monkeypatch.setenv(name, value)  # the emulator's CA for the vault's TLS
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"https://{elsewhere.host}")
    credential = azure_credential(emulator.vault_url("demo"), TENANT, CLIENT_ID)
    manifest = write_manifest(
        tmp_path, base="busybox:1", credentials={"kv": credential}, env={"A": {"secret": "openai-api-key"}}
    )
    loaded = baker.load(manifest, environ={"AZURE_CLIENT_SECRET": CLIENT_SECRET})
    assert loaded.credentials["kv"].authority_host is None  # the public cloud, as checked
    try:
        with pytest.raises(BakerError):  # the public cloud is out of reach here
            baker.resolve(loaded)
    finally:
        elsewhere.close()
    assert not elsewhere.heads, f"{len(elsewhere.heads)} connection(s) to os.environ's authority"

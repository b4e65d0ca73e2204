"""Manifests with several credentials: `test-connection NAME` tests only that one, `secrets list`
uses the default credential (which need not be the first), and references pick their credential."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baker.cli import main
from baker.emulator import Emulator
from tests.support.fixtures_emulator import EmulatorFactory
from tests.support.manifests import azure_credential, write_manifest

TENANT = "11111111-2222-3333-4444-555555555555"
APP_A, APP_B = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"


@pytest.fixture
def two_vaults(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[Emulator, Path]:
    world = {
        "tenants": {
            TENANT: {"apps": {APP_A: {"secrets": ["secret-of-a-1"]}, APP_B: {"secrets": ["secret-of-b-2"]}}}
        },
        "vaults": {
            "first": {
                "tenant": TENANT,
                "grants": [{"app": APP_A, "scope": "vault"}],
                "secrets": {"only-in-first": "value-first-111"},
            },
            "second": {
                "tenant": TENANT,
                "grants": [{"app": APP_B, "scope": "vault"}],
                "secrets": {"only-in-second": "value-second-222", "shared-name": "value-shared-333"},
            },
        },
    }
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_A", "secret-of-a-1")
    monkeypatch.setenv("SECRET_B", "secret-of-b-2")
    credentials = {
        "first": azure_credential(
            emu.vault_url("first"), TENANT, APP_A, client_secret="${SECRET_A}", default=False
        ),
        "second": azure_credential(emu.vault_url("second"), TENANT, APP_B, client_secret="${SECRET_B}"),
    }
    env = {
        "FROM_DEFAULT": {"secret": "only-in-second"},
        "FROM_FIRST": {"secret": "only-in-first", "credential": "first"},
    }
    return emu, write_manifest(tmp_path / "baker.yaml", base="base:1", credentials=credentials, env=env)


def test_test_connection_tests_only_the_named_credential(
    two_vaults: tuple[Emulator, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    emu, manifest = two_vaults
    emu.reset_stats()
    assert main(["test-connection", "first", "-f", str(manifest), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in document["credentials"]] == ["first"]
    assert {r.host for r in emu.requests() if ".vault." in r.host} == {"first.vault.localhost"}


def test_test_connection_tests_every_credential_when_none_is_named(
    two_vaults: tuple[Emulator, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, manifest = two_vaults
    assert main(["test-connection", "-f", str(manifest), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(c["name"], c["ok"]) for c in document["credentials"]] == [("first", True), ("second", True)]


def test_secrets_list_uses_the_default_credential_even_when_it_is_not_the_first(
    two_vaults: tuple[Emulator, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, manifest = two_vaults
    assert main(["secrets", "list", "-f", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "only-in-second" in out and "shared-name" in out
    assert "only-in-first" not in out


def test_references_resolve_through_their_own_credential(
    two_vaults: tuple[Emulator, Path], tmp_path: Path
) -> None:
    _, manifest = two_vaults
    assert main(["render", "-f", str(manifest), "--out", str(tmp_path / "out")]) == 0
    bake = json.loads((tmp_path / "out" / "docker-bake.json").read_text())
    # Build args are named baker_<token>_NAME (a base's ENV NAME would win over an ARG NAME).
    args = bake["target"]["default"]["args"]
    assert {name.split("_", 2)[2]: value for name, value in args.items()} == {
        "FROM_DEFAULT": "value-second-222",
        "FROM_FIRST": "value-first-111",
    }

"""`baker secrets list` against the emulator: every page, --prefix, the per-secret grant message,
and never a value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from baker.cli import main
from baker.commands.secrets import LIST_PERMISSION
from baker.emulator import Emulator
from tests.support.fixtures_emulator import small_world
from tests.support.manifests import azure_credential, write_manifest

pytestmark = pytest.mark.emulator

TENANT = "31111111-2222-3333-4444-555555555555"
LISTER, PERSEC = "cccccccc-0000-4000-8000-000000000001", "cccccccc-0000-4000-8000-000000000002"
CLIENT_SECRETS = {LISTER: "lister-client-secret-C4n4ry", PERSEC: "persec-client-secret-C4n4ry"}
MANY = {f"app-setting-{i:02d}": f"app-setting-value-{i:02d}-C4n4ry" for i in range(60)}
OTHERS = {
    "db-password": {
        "value": "db-password-value-C4n4ry",
        "content_type": "text/plain",
        "exp": "2031-02-03T00:00:00Z",
    },
    "db-user": {"value": "db-user-value-C4n4ry", "enabled": False},
}
WORLD = small_world(
    tenant=TENANT,
    apps=CLIENT_SECRETS,
    vaults={
        "many": {
            "model": "rbac",
            "grants": [{"app": LISTER, "scope": "vault"}, {"app": PERSEC, "secrets": ["db-password"]}],
            "secrets": {**MANY, **OTHERS},
        }
    },
)
CANARIES = [*CLIENT_SECRETS.values(), *MANY.values(), "db-password-value-C4n4ry", "db-user-value-C4n4ry"]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = Emulator.start(WORLD, state_dir=tmp_path_factory.mktemp("emulator"))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def manifest(emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LISTER_SECRET", CLIENT_SECRETS[LISTER])
    monkeypatch.setenv("PERSEC_SECRET", CLIENT_SECRETS[PERSEC])
    credentials = {
        name: azure_credential(
            emu.vault_url("many"), TENANT, client_id, client_secret=f"${{{var}}}", default=default
        )
        for name, client_id, var, default in (
            ("lister", LISTER, "LISTER_SECRET", True),
            ("persec", PERSEC, "PERSEC_SECRET", False),
        )
    }
    return write_manifest(tmp_path, base="busybox:latest", credentials=credentials, env={"LOG_LEVEL": "info"})


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["secrets", "list", *argv, "--debug"])
    captured = capsys.readouterr()
    for canary in CANARIES:
        assert canary not in captured.out and canary not in captured.err, canary
    return code, captured.out, captured.err


def test_secrets_list_returns_every_name_across_pages_when_the_vault_has_60_and_more(
    emu: Emulator, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(emu.requests())
    code, out, _ = _run(capsys, "-f", str(manifest), "--json")
    assert code == 0
    document = json.loads(out)
    names = [s["name"] for s in document["secrets"]]
    assert names == sorted([*MANY, *OTHERS])
    assert document["credential"] == "lister"
    pages = [r for r in emu.requests()[before:] if r.path.rstrip("/") == "/secrets" and r.status == 200]
    assert len(pages) > 1, "the emulator served one page: the paging is not exercised"
    by_name = {s["name"]: s for s in document["secrets"]}
    assert by_name["db-password"]["content_type"] == "text/plain"
    assert by_name["db-password"]["expires_on"].startswith("2031-02-03")
    assert by_name["db-user"]["enabled"] is False
    assert set(by_name["db-user"]) == {"name", "enabled", "expires_on", "content_type", "updated_on"}


def test_secrets_list_shows_a_table_for_people_when_not_json(
    manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "lister", "-f", str(manifest))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "ENABLED", "EXPIRES", "CONTENT", "TYPE", "UPDATED"]
    assert len(lines) == 1 + len(MANY) + len(OTHERS)
    assert any(line.startswith("db-user") and " no " in line for line in lines)
    assert "62 secrets" in err


@pytest.mark.parametrize("prefix", ["db_", "DB-", "db-"])
def test_secrets_list_keeps_only_names_with_the_prefix_when_given(
    manifest: Path, capsys: pytest.CaptureFixture[str], prefix: str
) -> None:
    code, out, _ = _run(capsys, "-f", str(manifest), "--prefix", prefix, "--json")
    assert code == 0
    assert [s["name"] for s in json.loads(out)["secrets"]] == ["db-password", "db-user"]


def test_secrets_list_names_the_missing_permission_when_granted_per_secret(
    manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "persec", "-f", str(manifest))
    assert code == 1
    assert LIST_PERMISSION in err
    assert "full names" in err

    code, out, _ = _run(capsys, "persec", "-f", str(manifest), "--json")
    assert code == 1
    document = json.loads(out)
    assert document["code"] == "missing-role"
    assert LIST_PERMISSION in document["message"]


def test_secrets_list_exits_2_when_the_named_credential_is_unknown(
    manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "nobody", "-f", str(manifest))
    assert code == 2
    assert "nobody" in err

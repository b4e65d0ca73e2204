"""`baker test-connection` against the emulator: every diagnosis code it can meet, a vault-scope
grant, a per-secret grant, and canary scans proving no client secret and no value is printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from baker.cli import main
from baker.diagnose import TABLE, Diagnosis
from baker.emulator import Emulator
from tests.support.fixtures_emulator import small_world
from tests.support.manifests import azure_credential, write_manifest

pytestmark = pytest.mark.emulator

TENANT = "21111111-2222-3333-4444-555555555555"
UNKNOWN_TENANT = "99999999-2222-3333-4444-555555555555"
GOOD, PERSEC, NOROLE, EXPIRED, POLICY, UNKNOWN_APP = (
    "bbbbbbbb-0000-4000-8000-000000000001",
    "bbbbbbbb-0000-4000-8000-000000000002",
    "bbbbbbbb-0000-4000-8000-000000000003",
    "bbbbbbbb-0000-4000-8000-000000000004",
    "bbbbbbbb-0000-4000-8000-000000000005",
    "bbbbbbbb-0000-4000-8000-0000000000ff",
)
CLIENT_SECRETS = {
    GOOD: "good-client-secret-C4n4ry",
    PERSEC: "persec-client-secret-C4n4ry",
    NOROLE: "norole-client-secret-C4n4ry",
    EXPIRED: "expired-client-secret-C4n4ry",
    POLICY: "policy-client-secret-C4n4ry",
}
WRONG_SECRET = "wrong-client-secret-C4n4ry"
VALUES = {
    "api-key": "api-key-value-C4n4ry",
    "db-password": "db-password-value-C4n4ry",
    "gone": "gone-value-C4n4ry",
    "off": "off-value-C4n4ry",
}
WORLD = small_world(
    tenant=TENANT,
    apps={
        GOOD: CLIENT_SECRETS[GOOD],
        PERSEC: CLIENT_SECRETS[PERSEC],
        NOROLE: CLIENT_SECRETS[NOROLE],
        POLICY: CLIENT_SECRETS[POLICY],
    },
    vaults={
        "main": {
            "model": "rbac",
            "grants": [
                {"app": GOOD, "scope": "vault"},
                {"app": PERSEC, "secrets": ["api-key", "db-password", "gone", "off"]},
            ],
            "secrets": {
                "api-key": VALUES["api-key"],
                "db-password": VALUES["db-password"],
                "gone": VALUES["gone"],
                "off": {"value": VALUES["off"], "enabled": False},
            },
        },
        "legacy": {
            "model": "access-policy",
            "grants": [{"app": GOOD, "permissions": ["get", "list"]}],
            "secrets": {"api-key": VALUES["api-key"]},
        },
    },
)
WORLD["tenants"][TENANT]["apps"][EXPIRED] = {"secrets": [{"value": CLIENT_SECRETS[EXPIRED], "expired": True}]}
CANARIES = [*CLIENT_SECRETS.values(), WRONG_SECRET, *VALUES.values()]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = Emulator.start(WORLD, state_dir=tmp_path_factory.mktemp("emulator"))
    emulator.delete_secret("main", "gone")  # granted per secret, then deleted: 404 SecretNotFound
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)


def _manifest(
    path: Path, *, vault_url: str, tenant: str, client_id: str, refs: list[str], name: str = "azure"
) -> Path:
    env_lines = (
        "".join(f"  VAR_{i}:\n    secret: {ref}\n" for i, ref in enumerate(refs)) or "  LOG_LEVEL: info\n"
    )
    credential = azure_credential(vault_url, tenant, client_id, client_secret="${TEST_CLIENT_SECRET}")
    return write_manifest(path, base="busybox:latest", credentials={name: credential}, env=env_lines)


def _run(
    capsys: pytest.CaptureFixture[str], manifest: Path, *extra: str, json_mode: bool = True
) -> tuple[int, str, str]:
    argv = ["test-connection", "-f", str(manifest), "--debug", *extra]
    if json_mode:
        argv.append("--json")
    code = main(argv)
    captured = capsys.readouterr()
    for canary in CANARIES:
        assert canary not in captured.out, f"{canary} printed on stdout"
        assert canary not in captured.err, f"{canary} printed on stderr"
    return code, captured.out, captured.err


FAILURE_CASES = [
    # (code, client id, client secret, tenant, vault, references)
    ("invalid-client-secret", GOOD, WRONG_SECRET, TENANT, "main", ["api-key"]),
    ("client-secret-expired", EXPIRED, CLIENT_SECRETS[EXPIRED], TENANT, "main", ["api-key"]),
    ("app-not-found", UNKNOWN_APP, CLIENT_SECRETS[GOOD], TENANT, "main", ["api-key"]),
    ("tenant-not-found", GOOD, CLIENT_SECRETS[GOOD], UNKNOWN_TENANT, "main", ["api-key"]),
    ("missing-role", NOROLE, CLIENT_SECRETS[NOROLE], TENANT, "main", ["api-key"]),
    ("legacy-access-policy", POLICY, CLIENT_SECRETS[POLICY], TENANT, "legacy", ["api-key"]),
    ("vault-unreachable", GOOD, CLIENT_SECRETS[GOOD], TENANT, None, ["api-key"]),
    ("secret-not-found", PERSEC, CLIENT_SECRETS[PERSEC], TENANT, "main", ["api-key", "gone"]),
    ("secret-disabled", PERSEC, CLIENT_SECRETS[PERSEC], TENANT, "main", ["api-key", "off"]),
]


@pytest.mark.parametrize(
    ("expected", "client_id", "client_secret", "tenant", "vault", "refs"),
    FAILURE_CASES,
    ids=[c[0] for c in FAILURE_CASES],
)
def test_test_connection_reports_diagnosis_evidence_and_fix_when_it_fails(
    emu: Emulator,
    env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    expected: str,
    client_id: str,
    client_secret: str,
    tenant: str,
    vault: str | None,
    refs: list[str],
) -> None:
    monkeypatch.setenv("TEST_CLIENT_SECRET", client_secret)
    vault_url = emu.vault_url(vault) if vault else "https://nope.vault.invalid"
    manifest = _manifest(
        tmp_path / "baker.yaml", vault_url=vault_url, tenant=tenant, client_id=client_id, refs=refs
    )

    code, out, _ = _run(capsys, manifest)
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    (result,) = document["credentials"]
    assert result["ok"] is False
    assert result["code"] == expected
    assert result["fix"]
    if expected not in {"vault-unreachable"}:
        assert result["evidence"]
    if expected in {"invalid-client-secret", "client-secret-expired", "app-not-found", "tenant-not-found"}:
        assert result["signed_in"] is False
    if expected in {"secret-not-found", "secret-disabled"}:
        assert result["signed_in"] is True
        assert [f["secret"] for f in result["failures"]] == [refs[1]]

    # The same run for people: the code, the evidence and the fix in words, still no canary.
    code, out, _ = _run(capsys, manifest, json_mode=False)
    assert code == 1
    assert f"[{expected}]" in out and "fix:" in out
    assert TABLE[Diagnosis(expected)].fix.split(" ")[0] in out


def test_test_connection_passes_when_the_app_has_the_role_on_the_vault(
    emu: Emulator,
    env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEST_CLIENT_SECRET", CLIENT_SECRETS[GOOD])
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault_url=emu.vault_url("main"),
        tenant=TENANT,
        client_id=GOOD,
        refs=["api-key", "db_password"],
    )
    code, out, _ = _run(capsys, manifest)
    assert code == 0
    (result,) = json.loads(out)["credentials"]
    assert (result["ok"], result["signed_in"], result["can_list"], result["secrets_read"]) == (
        True,
        True,
        True,
        2,
    )
    assert result["code"] is None and result["notes"] == []

    code, out, _ = _run(capsys, manifest, "azure", json_mode=False)
    assert code == 0
    assert "signed in" in out and "can list secrets" in out


def test_test_connection_passes_with_a_listing_note_when_granted_per_secret(
    emu: Emulator,
    env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEST_CLIENT_SECRET", CLIENT_SECRETS[PERSEC])
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault_url=emu.vault_url("main"),
        tenant=TENANT,
        client_id=PERSEC,
        refs=["api-key", "db-password"],
    )
    code, out, _ = _run(capsys, manifest)
    assert code == 0
    (result,) = json.loads(out)["credentials"]
    assert (result["ok"], result["can_list"], result["secrets_read"]) == (True, False, 2)
    assert any("listing is unavailable" in note for note in result["notes"])

    code, out, _ = _run(capsys, manifest, json_mode=False)
    assert code == 0
    assert "note" in out and "secrets list" in out


def test_test_connection_never_reads_a_value_when_it_succeeds(
    emu: Emulator,
    env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEST_CLIENT_SECRET", CLIENT_SECRETS[GOOD])
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault_url=emu.vault_url("main"),
        tenant=TENANT,
        client_id=GOOD,
        refs=["api-key"],
    )
    before = len(emu.requests())
    assert _run(capsys, manifest)[0] == 0
    vault_paths = [r.path for r in emu.requests()[before:] if ".vault." in r.host]
    assert vault_paths, "no vault request recorded"
    # Listing and version listing only: a GET of /secrets/NAME or /secrets/NAME/VERSION returns a value.
    for path in vault_paths:
        parts = [p for p in path.split("?")[0].split("/") if p]
        assert parts == ["secrets"] or (len(parts) == 3 and parts[2] == "versions"), path


def test_test_connection_exits_2_when_the_named_credential_is_unknown(
    emu: Emulator,
    env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEST_CLIENT_SECRET", CLIENT_SECRETS[GOOD])
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault_url=emu.vault_url("main"),
        tenant=TENANT,
        client_id=GOOD,
        refs=["api-key"],
    )
    code, _, err = _run(capsys, manifest, "azur", json_mode=False)
    assert code == 2
    assert "azur" in err

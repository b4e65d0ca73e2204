"""check, test-connection and secrets list, with a fake Provider at the `open_provider` seam."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from baker.check.record import BakedImage
from baker.commands.check import check
from baker.commands.connection import test_connection as run_test_connection
from baker.commands.secrets import LIST_PERMISSION, list_secrets
from baker.diagnose import Diagnosis
from baker.errors import ProviderError, ResolutionFailed, UsageError
from baker.model import CredentialSpec
from baker.output import Output
from baker.provenance import Origin
from baker.providers.base import SecretProperties
from baker.secret import Redactor
from tests.support.fakes import FakeProvider

CLIENT_SECRET = "client-secret-CANARY-77f1"
VALUE_CANARY = "value-CANARY-9c2e"
V1 = "a" * 32
V2 = "b" * 32
PIN = "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c"

MANIFEST = """\
version: 1
image:
  from: busybox:latest
  tag: registry.localhost:5000/app:baked
credentials:
  prod:
    provider: azure-key-vault
    vault_url: https://prod.vault.localhost:8443
    tenant_id: 6f1c0d2e-7a3b-4c5d-9e8f-0a1b2c3d4e5f
    client_id: 1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516
    client_secret: ${PROD_SECRET}
    default: true
  shared:
    provider: azure-key-vault
    vault_url: https://shared.vault.localhost:8443
    tenant_id: 6f1c0d2e-7a3b-4c5d-9e8f-0a1b2c3d4e5f
    client_id: 1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516
    client_secret: ${SHARED_SECRET}
env:
  LOG_LEVEL: info
  API_KEY:
    secret: api-key
  DB_USER:
    secret: db#user
    credential: shared
  LEGACY:
    secret: legacy
    version: 4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c
"""


def _error(diagnosis: Diagnosis, evidence: str) -> ProviderError:
    return ProviderError(f"failed: {diagnosis.value}", diagnosis=diagnosis, evidence=evidence)


def _props(name: str, version: str, **kw: object) -> SecretProperties:
    return SecretProperties(name=name, version=version, **kw)  # type: ignore[arg-type]


def _world() -> dict[str, FakeProvider]:
    return {}


@pytest.fixture
def manifest_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROD_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SHARED_SECRET", CLIENT_SECRET + "-shared")
    path = tmp_path / "baker.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


@dataclass
class Run:
    out: Output
    stdout: io.StringIO
    stderr: io.StringIO

    @property
    def text(self) -> str:
        return self.stdout.getvalue() + self.stderr.getvalue()

    def document(self) -> dict[str, object]:
        return json.loads(self.stdout.getvalue())  # type: ignore[no-any-return]


def _run(json_mode: bool) -> Run:
    stdout, stderr = io.StringIO(), io.StringIO()
    redactor = Redactor()
    redactor.register(CLIENT_SECRET)
    return Run(Output(json_mode=json_mode, stdout=stdout, stderr=stderr, redactor=redactor), stdout, stderr)


def _opener(providers: dict[str, FakeProvider]):  # type: ignore[no-untyped-def]
    def open_provider(spec: CredentialSpec) -> FakeProvider:
        provider = providers.setdefault(spec.name, FakeProvider(spec, value=VALUE_CANARY))
        provider.credential = spec
        return provider

    return open_provider


def _healthy() -> dict[str, FakeProvider]:
    dummy = CredentialSpec("x", "azure-key-vault", "https://x", None, None, None, False, None)
    return {
        "prod": FakeProvider(
            dummy,
            value=VALUE_CANARY,
            versions={
                "api-key": [_props("api-key", V1)],
                "legacy": [_props("legacy", PIN), _props("legacy", V2)],
            },
        ),
        "shared": FakeProvider(dummy, value=VALUE_CANARY, versions={"db": [_props("db", V1)]}),
    }


def _no_canary(run: Run) -> None:
    assert CLIENT_SECRET not in run.text
    assert VALUE_CANARY not in run.text


# --- test-connection ----------------------------------------------------------------------------


@pytest.mark.parametrize("json_mode", [False, True])
def test_test_connection_passes_every_credential_when_all_can_list_and_read(
    manifest_file: Path, json_mode: bool
) -> None:
    providers = _healthy()
    run = _run(json_mode)
    code = run_test_connection(
        out=run.out, file=manifest_file, credential=None, open_provider=_opener(providers)
    )
    assert code == 0
    _no_canary(run)
    assert all(p.value_reads == 0 for p in providers.values())  # metadata only
    assert all(p.closed for p in providers.values())
    if json_mode:
        doc = run.document()
        assert doc["ok"] is True
        creds = doc["credentials"]
        assert isinstance(creds, list)
        assert [(c["name"], c["ok"], c["signed_in"], c["can_list"]) for c in creds] == [
            ("prod", True, True, True),
            ("shared", True, True, True),
        ]
    else:
        assert "signed in" in run.stdout.getvalue()


FAILURES = [
    ("sign_in", Diagnosis.INVALID_CLIENT_SECRET, "AADSTS7000215"),
    ("sign_in", Diagnosis.CLIENT_SECRET_EXPIRED, "AADSTS7000222"),
    ("sign_in", Diagnosis.APP_NOT_FOUND, "AADSTS700016"),
    ("sign_in", Diagnosis.TENANT_NOT_FOUND, "AADSTS90002"),
    ("list", Diagnosis.VAULT_UNREACHABLE, "NameResolutionError"),
    ("list", Diagnosis.THROTTLED, "429"),
    ("secret", Diagnosis.MISSING_ROLE, "403 ForbiddenByRbac"),
    ("secret", Diagnosis.SECRET_NOT_FOUND, "404 SecretNotFound"),
    ("secret", Diagnosis.SECRET_DISABLED, "403 SecretDisabled"),
]


@pytest.mark.parametrize("json_mode", [False, True])
@pytest.mark.parametrize(("where", "diagnosis", "evidence"), FAILURES, ids=[f[1].value for f in FAILURES])
def test_test_connection_reports_code_evidence_and_fix_when_a_step_fails(
    manifest_file: Path, json_mode: bool, where: str, diagnosis: Diagnosis, evidence: str
) -> None:
    providers = _healthy()
    prod = providers["prod"]
    if where == "sign_in":
        prod.sign_in_error = _error(diagnosis, evidence)
    elif where == "list":
        prod.list_error = _error(diagnosis, evidence)
    else:
        prod.errors["api-key"] = _error(diagnosis, evidence)
    run = _run(json_mode)
    code = run_test_connection(
        out=run.out, file=manifest_file, credential="prod", open_provider=_opener(providers)
    )
    assert code == 1
    _no_canary(run)
    if json_mode:
        doc = run.document()
        assert doc["ok"] is False
        (cred,) = doc["credentials"]  # type: ignore[misc]
        assert cred["code"] == diagnosis.value
        assert cred["evidence"] == evidence
        assert cred["fix"]
        assert cred["signed_in"] is (where != "sign_in")
    else:
        text = run.stdout.getvalue()
        assert f"[{diagnosis.value}]" in text and evidence in text and "fix:" in text


def test_test_connection_passes_with_a_note_when_only_per_secret_grants_exist(manifest_file: Path) -> None:
    providers = _healthy()
    providers["prod"].list_error = _error(Diagnosis.MISSING_ROLE, "403 ForbiddenByRbac")
    run = _run(True)
    code = run_test_connection(
        out=run.out, file=manifest_file, credential="prod", open_provider=_opener(providers)
    )
    assert code == 0
    (cred,) = run.document()["credentials"]  # type: ignore[misc]
    assert cred["ok"] is True and cred["can_list"] is False and cred["secrets_read"] == 2
    assert any("listing is unavailable" in note for note in cred["notes"])


def test_test_connection_fails_when_listing_is_refused_and_nothing_is_referenced(manifest_file: Path) -> None:
    manifest_file.write_text(MANIFEST.split("env:")[0] + "env:\n  A: b\n", encoding="utf-8")
    providers = _healthy()
    providers["prod"].list_error = _error(Diagnosis.MISSING_ROLE, "403 ForbiddenByRbac")
    run = _run(True)
    assert (
        run_test_connection(
            out=run.out, file=manifest_file, credential="prod", open_provider=_opener(providers)
        )
        == 1
    )
    (cred,) = run.document()["credentials"]  # type: ignore[misc]
    assert cred["code"] == "missing-role"


def test_test_connection_reports_disabled_secret_as_failure_when_metadata_says_so(
    manifest_file: Path,
) -> None:
    providers = _healthy()
    providers["prod"].versions["api-key"] = [_props("api-key", V1, enabled=False)]
    run = _run(True)
    assert (
        run_test_connection(
            out=run.out, file=manifest_file, credential="prod", open_provider=_opener(providers)
        )
        == 1
    )
    (cred,) = run.document()["credentials"]  # type: ignore[misc]
    assert cred["code"] == "secret-disabled" and cred["failures"][0]["secret"] == "api-key"


def test_test_connection_warns_when_a_referenced_secret_expires_soon_or_is_not_yet_valid(
    manifest_file: Path,
) -> None:
    now = datetime.now(timezone.utc)
    providers = _healthy()
    providers["prod"].versions["api-key"] = [_props("api-key", V1, expires_on=now + timedelta(days=2))]
    providers["prod"].versions["legacy"] = [
        _props("legacy", PIN, expires_on=now - timedelta(days=2), not_before=now + timedelta(days=1))
    ]
    run = _run(True)
    assert (
        run_test_connection(
            out=run.out, file=manifest_file, credential="prod", open_provider=_opener(providers)
        )
        == 0
    )
    (cred,) = run.document()["credentials"]  # type: ignore[misc]
    warnings = " ".join(cred["warnings"])
    assert "api-key expires on" in warnings and "expired on" in warnings and "not valid before" in warnings


def test_test_connection_raises_usage_error_when_credential_is_unknown(manifest_file: Path) -> None:
    with pytest.raises(UsageError) as info:
        run_test_connection(
            out=_run(False).out, file=manifest_file, credential="prd", open_provider=_opener({})
        )
    assert info.value.exit_code == 2


def test_test_connection_reports_unset_variable_of_an_unused_credential_when_testing_all(
    manifest_file: Path,
) -> None:
    spare = (
        "  spare:\n    provider: azure-key-vault\n    vault_url: https://spare.vault.localhost:8443\n"
        "    tenant_id: t\n    client_id: c\n    client_secret: ${SPARE_SECRET}\n"
    )
    manifest_file.write_text(MANIFEST.replace("env:\n", spare + "env:\n", 1), encoding="utf-8")
    run = _run(True)
    code = run_test_connection(
        out=run.out, file=manifest_file, credential=None, open_provider=_opener(_healthy())
    )
    assert code == 1
    creds = run.document()["credentials"]
    assert isinstance(creds, list)
    assert [c["ok"] for c in creds] == [True, True, False]
    assert "SPARE_SECRET" in creds[2]["message"]


# --- secrets list ------------------------------------------------------------------------------


def test_secrets_list_shows_names_and_metadata_but_never_values(manifest_file: Path) -> None:
    providers = _healthy()
    expires = datetime(2030, 1, 2, tzinfo=timezone.utc)
    providers["prod"].versions["tls-key"] = [
        _props("tls-key", V1, content_type="application/x-pem", expires_on=expires)
    ]
    run = _run(False)
    code = list_secrets(
        out=run.out, file=manifest_file, credential=None, prefix=None, open_provider=_opener(providers)
    )
    assert code == 0
    text = run.stdout.getvalue()
    assert "api-key" in text and "tls-key" in text and "application/x-pem" in text and "2030-01-02" in text
    assert providers["prod"].value_reads == 0
    _no_canary(run)


def test_secrets_list_filters_by_prefix_reading_underscores_as_dashes(manifest_file: Path) -> None:
    providers = _healthy()
    providers["prod"].versions["API-other"] = [_props("API-other", V1)]
    run = _run(True)
    list_secrets(
        out=run.out, file=manifest_file, credential="prod", prefix="api_", open_provider=_opener(providers)
    )
    doc = run.document()
    assert [s["name"] for s in doc["secrets"]] == ["api-key", "API-other"]  # type: ignore[index, union-attr]


def test_secrets_list_names_the_missing_permission_when_only_per_secret_grants_exist(
    manifest_file: Path,
) -> None:
    providers = _healthy()
    providers["prod"].list_error = _error(Diagnosis.MISSING_ROLE, "403 ForbiddenByRbac")
    with pytest.raises(ProviderError) as info:
        list_secrets(
            out=_run(False).out,
            file=manifest_file,
            credential=None,
            prefix=None,
            open_provider=_opener(providers),
        )
    assert LIST_PERMISSION in info.value.message
    assert "full names" in (info.value.hint or "")
    assert info.value.exit_code == 1


@pytest.mark.parametrize("defaults", ["none", "two"])
def test_secrets_list_raises_no_credential_when_default_is_ambiguous(
    manifest_file: Path, defaults: str
) -> None:
    text = MANIFEST.replace("    default: true\n", "")
    if defaults == "two":
        text = MANIFEST.replace(
            "    client_secret: ${SHARED_SECRET}\n",
            "    client_secret: ${SHARED_SECRET}\n    default: true\n",
        )
        text = text.replace("  DB_USER:\n    secret: db#user\n    credential: shared\n", "")
    text = text.split("env:")[0] + "env:\n  A: b\n"
    manifest_file.write_text(text, encoding="utf-8")
    with pytest.raises(Exception) as info:
        list_secrets(
            out=_run(False).out, file=manifest_file, credential=None, prefix=None, open_provider=_opener({})
        )
    assert info.value.exit_code == 2  # type: ignore[attr-defined]
    if isinstance(info.value, UsageError):
        assert info.value.diagnosis == Diagnosis.NO_CREDENTIAL


# --- check -------------------------------------------------------------------------------------


def _baked(**overrides: str) -> BakedImage:
    versions = {"API_KEY": V1, "DB_USER": V1} | overrides
    origins = (
        Origin("LOG_LEVEL", "literal"),
        Origin(
            "API_KEY",
            "secret",
            "prod",
            "https://prod.vault.localhost:8443",
            "api-key",
            None,
            versions["API_KEY"],
            False,
            "api-key",
        ),
        Origin(
            "DB_USER",
            "secret",
            "shared",
            "https://shared.vault.localhost:8443",
            "db",
            "user",
            versions["DB_USER"],
            False,
            "db#user",
        ),
        Origin(
            "LEGACY",
            "secret",
            "prod",
            "https://prod.vault.localhost:8443",
            "legacy",
            None,
            PIN,
            True,
            "legacy",
        ),
    )
    return BakedImage(
        "registry.localhost:5000/app:baked", "sha256:abc", "local", origins, {"LOG_LEVEL": "info"}
    )


@pytest.mark.parametrize("json_mode", [False, True])
def test_check_exits_0_when_every_version_is_current(manifest_file: Path, json_mode: bool) -> None:
    run = _run(json_mode)
    code = check(
        out=run.out, file=manifest_file, image="x", open_provider=_opener(_healthy()), baked=_baked()
    )
    assert code == 0
    if json_mode:
        doc = run.document()
        assert set(doc) == {"stale", "entries"}
        assert doc["stale"] is False
        assert [(e["env"], e["status"]) for e in doc["entries"]] == [  # type: ignore[union-attr]
            ("LOG_LEVEL", "literal"),
            ("API_KEY", "current"),
            ("DB_USER", "current"),
            ("LEGACY", "pinned"),
        ]
    else:
        assert "up to date" in run.stdout.getvalue()


def test_check_exits_3_naming_the_var_when_a_secret_rotated(manifest_file: Path) -> None:
    providers = _healthy()
    providers["prod"].versions["api-key"].append(_props("api-key", V2))
    run = _run(False)
    assert (
        check(out=run.out, file=manifest_file, image="x", open_provider=_opener(providers), baked=_baked())
        == 3
    )
    assert "API_KEY" in run.stdout.getvalue() and "rotated" in run.stdout.getvalue()


def test_check_exits_1_with_report_when_a_secret_was_deleted(manifest_file: Path) -> None:
    providers = _healthy()
    del providers["shared"].versions["db"]
    run = _run(True)
    assert (
        check(out=run.out, file=manifest_file, image="x", open_provider=_opener(providers), baked=_baked())
        == 1
    )
    statuses = {e["env"]: e["status"] for e in run.document()["entries"]}  # type: ignore[union-attr]
    assert statuses["DB_USER"] == "deleted"


def test_check_raises_when_the_vault_refuses_access(manifest_file: Path) -> None:
    providers = _healthy()
    providers["prod"].errors["api-key"] = _error(Diagnosis.MISSING_ROLE, "403")
    with pytest.raises(ResolutionFailed):
        check(
            out=_run(False).out,
            file=manifest_file,
            image="x",
            open_provider=_opener(providers),
            baked=_baked(),
        )


def test_check_asks_each_distinct_secret_once_and_never_for_a_value(manifest_file: Path) -> None:
    providers = _healthy()
    check(
        out=_run(False).out,
        file=manifest_file,
        image="x",
        open_provider=_opener(providers),
        baked=_baked(),
    )
    calls = [call for p in providers.values() for call in p.metadata_calls]
    assert sorted(calls, key=str) == sorted([("api-key", None), ("db", None), ("legacy", PIN)], key=str)
    assert all(p.value_reads == 0 for p in providers.values())


# --- the vault a command names is the one connected to ---------------------------------------


# `corp-v\u0430ult` with a Cyrillic a: another host than the one it looks like (rtu-4 fixed it for `plan`)
LOOKALIKE = "https://corp-v\u0430ult.vault.localhost:8443"
CONNECTED = "https://xn--corp-vult-5yh.vault.localhost:8443"


@pytest.mark.parametrize("json_mode", [False, True])
@pytest.mark.parametrize("command", ["test-connection", "secrets"])
def test_test_connection_and_secrets_name_a_non_ascii_vault_host_as_connected_to(
    manifest_file: Path, json_mode: bool, command: str
) -> None:
    manifest_file.write_text(
        MANIFEST.replace("https://prod.vault.localhost:8443", LOOKALIKE), encoding="utf-8"
    )
    run = _run(json_mode)
    if command == "secrets":
        list_secrets(
            out=run.out, file=manifest_file, credential="prod", prefix=None, open_provider=_opener(_healthy())
        )
    else:
        run_test_connection(
            out=run.out, file=manifest_file, credential="prod", open_provider=_opener(_healthy())
        )
    assert CONNECTED in run.text
    assert "\u0430" not in run.text

"""`compare`: every status, from fake records and fake Key Vault metadata (no network)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from baker.check.compare import CheckReport, compare, wanted
from baker.diagnose import Diagnosis
from baker.errors import ProviderError, ResolutionFailed
from baker.model import CredentialSpec, EnvEntry, ImageSpec, LiteralValue, Manifest, SecretRef
from baker.provenance import Origin
from baker.providers.base import SecretProperties
from baker.secret import Secret

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
VAULT = "https://demo.vault.azure.net"
OTHER_VAULT = "https://other.vault.azure.net"
V1 = "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c"
V2 = "9a1b00000000000000000000000000ff"


def _cred(name: str, vault_url: str = VAULT) -> CredentialSpec:
    return CredentialSpec(
        name, "azure-key-vault", vault_url, "t", "c", Secret("cs-canary-1234"), name == "prod", None
    )


def _manifest(*env: EnvEntry, vault_url: str = VAULT) -> Manifest:
    creds = {"prod": _cred("prod", vault_url), "shared": _cred("shared")}
    return Manifest("baker.yaml", ImageSpec("busybox", None), creds, tuple(env))


def _ref(
    name: str, *, key: str | None = None, version: str | None = None, credential: str = "prod"
) -> SecretRef:
    return SecretRef(name if key is None else f"{name}#{key}", name, key, version, credential)


def _origin(env: str, name: str, version: str | None = V1, **kw: object) -> Origin:
    fields: dict[str, object] = {"credential": "prod", "vault_url": VAULT, "secret": name, "version": version}
    fields.update(kw)
    return Origin(env, "secret", **fields)  # type: ignore[arg-type]


def _props(version: str | None = V1, **kw: object) -> SecretProperties:
    return SecretProperties(name="s", version=version, **kw)  # type: ignore[arg-type]


def _one(
    manifest_source: LiteralValue | SecretRef | None,
    origin: Origin | None,
    answer: SecretProperties | ProviderError | None = None,
    baked_env: dict[str, str] | None = None,
    vault_url: str = VAULT,
) -> CheckReport:
    env = (EnvEntry("VAR", manifest_source),) if manifest_source is not None else ()
    manifest = _manifest(*env, vault_url=vault_url)
    baked = (origin,) if origin is not None else ()
    current = {key: answer for key in wanted(manifest, baked)} if answer is not None else {}
    return compare(manifest, baked, current, baked_env, now=NOW)  # type: ignore[arg-type]


def _not_found() -> ProviderError:
    return ProviderError("gone", diagnosis=Diagnosis.SECRET_NOT_FOUND, evidence="404 SecretNotFound")


def _disabled() -> ProviderError:
    return ProviderError("off", diagnosis=Diagnosis.SECRET_DISABLED, evidence="403 SecretDisabled")


CASES = [
    # (id, manifest source, baked origin, Key Vault answer, baked env, status, stale)
    ("current", _ref("api-key"), _origin("VAR", "api-key"), _props(V1), None, "current", False),
    ("rotated", _ref("api-key"), _origin("VAR", "api-key"), _props(V2), None, "rotated", True),
    (
        "pinned-stays-quiet-after-rotation",
        _ref("legacy", version=V1),
        _origin("VAR", "legacy", pinned=True),
        _props(V1),
        None,
        "pinned",
        False,
    ),
    ("literal", LiteralValue("info"), Origin("VAR", "literal"), None, {"VAR": "info"}, "literal", False),
    ("literal-without-env", LiteralValue("info"), Origin("VAR", "literal"), None, None, "literal", False),
    (
        "literal-changed",
        LiteralValue("debug"),
        Origin("VAR", "literal"),
        None,
        {"VAR": "info"},
        "changed",
        True,
    ),
    ("literal-missing-in-env", LiteralValue("x"), Origin("VAR", "literal"), None, {}, "changed", True),
    (
        "disabled-flag",
        _ref("api-key"),
        _origin("VAR", "api-key"),
        _props(V1, enabled=False),
        None,
        "disabled",
        False,
    ),
    ("disabled-error", _ref("api-key"), _origin("VAR", "api-key"), _disabled(), None, "disabled", False),
    ("deleted", _ref("api-key"), _origin("VAR", "api-key"), _not_found(), None, "deleted", False),
    (
        "pinned-deleted",
        _ref("legacy", version=V1),
        _origin("VAR", "legacy", pinned=True),
        _not_found(),
        None,
        "deleted",
        False,
    ),
    (
        "pinned-disabled",
        _ref("legacy", version=V1),
        _origin("VAR", "legacy", pinned=True),
        _props(V1, enabled=False),
        None,
        "disabled",
        False,
    ),
    (
        "expired",
        _ref("api-key"),
        _origin("VAR", "api-key"),
        _props(V1, expires_on=NOW - timedelta(days=1)),
        None,
        "expired",
        False,
    ),
    (
        "expiring",
        _ref("api-key"),
        _origin("VAR", "api-key"),
        _props(V1, expires_on=NOW + timedelta(days=3)),
        None,
        "expiring",
        False,
    ),
    (
        "far-expiry-is-current",
        _ref("api-key"),
        _origin("VAR", "api-key"),
        _props(V1, expires_on=NOW + timedelta(days=90)),
        None,
        "current",
        False,
    ),
    (
        "rotated-to-a-version-expiring-soon-is-rotated",
        _ref("api-key"),
        _origin("VAR", "api-key"),
        _props(V2, expires_on=NOW + timedelta(days=3)),
        None,
        "rotated",
        True,
    ),
    (
        "naive-expiry-read-as-utc",
        _ref("api-key"),
        _origin("VAR", "api-key"),
        _props(V1, expires_on=datetime(2025, 5, 1)),
        None,
        "expired",
        False,
    ),
    ("added", _ref("api-key"), None, None, None, "added", True),
    ("removed", None, _origin("VAR", "api-key"), None, None, "removed", True),
    ("changed-secret", _ref("other-key"), _origin("VAR", "api-key"), None, None, "changed", True),
    (
        "changed-credential",
        _ref("api-key", credential="shared"),
        _origin("VAR", "api-key"),
        None,
        None,
        "changed",
        True,
    ),
    (
        "changed-key",
        _ref("db", key="password"),
        _origin("VAR", "db", key="user"),
        None,
        None,
        "changed",
        True,
    ),
    (
        "changed-newly-pinned",
        _ref("api-key", version=V1),
        _origin("VAR", "api-key"),
        None,
        None,
        "changed",
        True,
    ),
    (
        "changed-unpinned",
        _ref("api-key"),
        _origin("VAR", "api-key", pinned=True),
        None,
        None,
        "changed",
        True,
    ),
    (
        "changed-pin",
        _ref("api-key", version=V2),
        _origin("VAR", "api-key", pinned=True),
        None,
        None,
        "changed",
        True,
    ),
    ("changed-literal-to-secret", _ref("api-key"), Origin("VAR", "literal"), None, None, "changed", True),
    ("changed-secret-to-literal", LiteralValue("x"), _origin("VAR", "api-key"), None, None, "changed", True),
]


@pytest.mark.parametrize(
    ("source", "origin", "answer", "baked_env", "status", "stale"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_compare_reports_the_status_when_image_and_vault_differ_so(
    source: LiteralValue | SecretRef | None,
    origin: Origin | None,
    answer: SecretProperties | ProviderError | None,
    baked_env: dict[str, str] | None,
    status: str,
    stale: bool,
) -> None:
    report = _one(source, origin, answer, baked_env)
    assert [e.status for e in report.entries] == [status]
    assert report.entries[0].env == "VAR"
    assert report.stale is stale
    assert report.to_json()["stale"] is stale


def test_changed_when_the_credential_now_points_at_another_vault() -> None:
    report = _one(_ref("api-key"), _origin("VAR", "api-key"), None, vault_url=OTHER_VAULT)
    assert report.entries[0].status == "changed"
    assert OTHER_VAULT in report.entries[0].detail


def test_secret_names_compare_case_insensitively_when_key_vault_does() -> None:
    report = _one(_ref("API-Key"), _origin("VAR", "api-key"), _props(V1))
    assert report.entries[0].status == "current"


def test_rotated_detail_names_both_versions_shortened() -> None:
    entry = _one(_ref("api-key"), _origin("VAR", "api-key"), _props(V2)).entries[0]
    assert entry.detail == "v 4c5e2a0b... -> 9a1b0000..."
    assert entry.to_json() == {
        "env": "VAR",
        "status": "rotated",
        "detail": entry.detail,
        "credential": "prod",
        "secret": "api-key",
        "baked_version": V1,
        "current_version": V2,
    }


def test_literal_comparison_never_puts_either_value_in_the_report() -> None:
    report = _one(LiteralValue("new-literal-XYZ"), Origin("VAR", "literal"), None, {"VAR": "old-literal-ABC"})
    text = str(report.to_json())
    assert "new-literal-XYZ" not in text and "old-literal-ABC" not in text


def test_report_lists_manifest_order_then_removed_when_both_differ() -> None:
    manifest = _manifest(
        EnvEntry("B", _ref("b")),
        EnvEntry("A", LiteralValue("x")),
        EnvEntry("NEW", _ref("n")),
    )
    baked = (Origin("A", "literal"), _origin("OLD", "o"), _origin("B", "b"))
    current = {key: _props(V1) for key in wanted(manifest, baked)}
    report = compare(manifest, baked, current, {"A": "x"}, now=NOW)
    assert [(e.env, e.status) for e in report.entries] == [
        ("B", "current"),
        ("A", "literal"),
        ("NEW", "added"),
        ("OLD", "removed"),
    ]
    assert report.to_json() == {"stale": True, "entries": [e.to_json() for e in report.entries]}


def test_wanted_fetches_each_secret_once_and_skips_repointed_ones() -> None:
    manifest = _manifest(
        EnvEntry("A", _ref("shared-json", key="user")),
        EnvEntry("B", _ref("shared-json", key="pass")),
        EnvEntry("C", _ref("moved")),
        EnvEntry("D", _ref("legacy", version=V1)),
    )
    baked = (
        _origin("A", "shared-json", key="user"),
        _origin("B", "shared-json", key="pass"),
        _origin("C", "was-elsewhere"),
        _origin("D", "legacy", pinned=True),
        _origin("GONE", "gone"),
    )
    assert set(wanted(manifest, baked)) == {("prod", "shared-json", None), ("prod", "legacy", V1)}


def test_other_provider_failures_raise_naming_every_env_var() -> None:
    manifest = _manifest(EnvEntry("A", _ref("a")), EnvEntry("B", _ref("b")))
    baked = (_origin("A", "a"), _origin("B", "b"))
    denied = ProviderError("denied", diagnosis=Diagnosis.MISSING_ROLE, evidence="403 ForbiddenByRbac")
    current = dict.fromkeys(wanted(manifest, baked), denied)
    with pytest.raises(ResolutionFailed) as info:
        compare(manifest, baked, current, None, now=NOW)  # type: ignore[arg-type]
    assert [f.env for f in info.value.failures] == ["A", "B"]


def test_expiring_window_is_configurable() -> None:
    manifest = _manifest(EnvEntry("A", _ref("a")))
    baked = (_origin("A", "a"),)
    current = {k: _props(V1, expires_on=NOW + timedelta(days=20)) for k in wanted(manifest, baked)}
    assert compare(manifest, baked, current, None, now=NOW).entries[0].status == "current"
    report = compare(manifest, baked, current, None, now=NOW, expiring_days=30)  # type: ignore[arg-type]
    assert report.entries[0].status == "expiring"
    assert not report.stale and not report.attention


@pytest.mark.parametrize("status", ["deleted", "disabled", "expired"])
def test_attention_lists_entries_a_rebake_cannot_fix(status: str) -> None:
    answers = {
        "deleted": _not_found(),
        "disabled": _disabled(),
        "expired": _props(V1, expires_on=NOW - timedelta(hours=1)),
    }
    report = _one(_ref("api-key"), _origin("VAR", "api-key"), answers[status])
    assert [e.status for e in report.attention] == [status]
    assert not report.stale

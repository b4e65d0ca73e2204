"""The provenance label: round trip, no values, size, malformed records."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baker import provenance
from baker.errors import ImageError
from baker.model import CredentialSpec, EnvEntry, ImageSpec, LiteralValue, Manifest, SecretRef
from baker.provenance import Origin, encode, from_label, from_resolved, to_label
from baker.providers.base import SecretProperties
from baker.secret import Secret

VAULT = "https://my-vault.vault.azure.net"
SHARED = "https://shared-vault.vault.azure.net"


@dataclass(frozen=True)
class FakeResolved:
    """The shape of `baker.resolver.Resolved` (duck-typed so this test runs before/without it)."""

    env: str
    value: Secret
    source: LiteralValue | SecretRef
    version: str | None
    properties: SecretProperties | None
    parts: tuple[tuple[str, SecretProperties | None], ...] = ()
    prefix: str | None = None


@dataclass(frozen=True)
class FakeResolvedEnv:
    entries: tuple[FakeResolved, ...]
    build_secrets: tuple[FakeResolved, ...] = ()
    files: tuple[FakeResolved, ...] = ()


def _cred(name: str, vault_url: str, *, default: bool = False) -> CredentialSpec:
    return CredentialSpec(
        name=name,
        provider="azure-key-vault",
        vault_url=vault_url,
        tenant_id="t",
        client_id="c",
        client_secret=Secret("client-secret-canary-XYZ"),
        is_default=default,
        line=None,
    )


def _manifest(env: tuple[EnvEntry, ...]) -> Manifest:
    return Manifest(
        path="baker.yaml",
        image=ImageSpec(base="busybox", build=None),
        credentials={
            "azure-prod": _cred("azure-prod", VAULT, default=True),
            "azure-shared": _cred("azure-shared", SHARED),
        },
        env=env,
    )


ENV = (
    EnvEntry("LOG_LEVEL", LiteralValue("info")),
    EnvEntry("OPENAI_API_KEY", SecretRef("openai-api-key", "openai-api-key", None, None, "azure-prod")),
    EnvEntry(
        "DB_PASSWORD",
        SecretRef("database-credentials#password", "database-credentials", "password", None, "azure-shared"),
    ),
    EnvEntry("db_password", SecretRef("db_password", "db-password", None, None, "azure-prod")),
    EnvEntry("LEGACY_KEY", SecretRef("legacy-key", "legacy-key", None, "4c5e2a0b", "azure-prod")),
)
VALUES = {
    "LOG_LEVEL": "info",
    "OPENAI_API_KEY": "sk-demo-4f9a1c2e7b",
    "DB_PASSWORD": 'p@ss w0rd$#"q',
    "db_password": "hunter2-demo-pw",
    "LEGACY_KEY": "legacy-v1-value",
}
VERSIONS = {
    "OPENAI_API_KEY": "v-openai-1",
    "DB_PASSWORD": "v-db-7",
    "db_password": "v-dbp-2",
    "LEGACY_KEY": "4c5e2a0b",
}


def _resolved(manifest: Manifest) -> FakeResolvedEnv:
    entries = []
    for e in manifest.env:
        version = VERSIONS.get(e.name)
        props = SecretProperties(name="x", version=version) if version else None
        entries.append(FakeResolved(e.name, Secret(VALUES[e.name]), e.source, version, props))
    return FakeResolvedEnv(tuple(entries))


def test_origins_follow_manifest_order_and_carry_versions_when_resolved() -> None:
    manifest = _manifest(ENV)
    origins = from_resolved(_resolved(manifest), manifest)  # type: ignore[arg-type]
    assert [o.env for o in origins] == [e.name for e in ENV]
    assert origins[0] == Origin(env="LOG_LEVEL", kind="literal")
    assert origins[2] == Origin(
        env="DB_PASSWORD",
        kind="secret",
        credential="azure-shared",
        vault_url=SHARED,
        secret="database-credentials",
        key="password",
        version="v-db-7",
        pinned=False,
        written="database-credentials#password",
    )
    assert origins[4].pinned and origins[4].version == "4c5e2a0b"


def test_label_round_trips_every_origin_when_written_and_read_back() -> None:
    manifest = _manifest(ENV)
    origins = from_resolved(_resolved(manifest), manifest)  # type: ignore[arg-type]
    text = to_label(_resolved(manifest), manifest)  # type: ignore[arg-type]
    assert from_label(text) == origins


def test_label_holds_no_value_and_no_hash_of_one_when_values_are_baked() -> None:
    import hashlib

    manifest = _manifest(ENV)
    text = to_label(_resolved(manifest), manifest)  # type: ignore[arg-type]
    for env, value in VALUES.items():
        if env == "LOG_LEVEL":
            continue  # "info" is a literal and a common word; literals are never recorded either
        assert value not in text
        for algo in ("sha256", "sha1", "md5", "sha512"):
            assert hashlib.new(algo, value.encode()).hexdigest() not in text
    assert "client-secret-canary-XYZ" not in text
    assert '"info"' not in text


def test_label_is_compact_json_with_format_version_when_rendered() -> None:
    manifest = _manifest(ENV)
    text = to_label(_resolved(manifest), manifest)  # type: ignore[arg-type]
    document = json.loads(text)
    assert document["v"] == 1
    assert set(document["env"]) == {e.name for e in ENV}
    assert ", " not in text and ": " not in text.replace('": "', "")  # no insignificant whitespace
    assert provenance.LABEL == "dev.baker.provenance"


def test_label_for_400_variables_stays_well_under_100_kb_when_names_are_long() -> None:
    env = tuple(
        EnvEntry(
            f"APPLICATION_SETTING_NUMBER_{i:04d}_SECRET",
            SecretRef(
                f"application_setting_number_{i:04d}_secret#field",
                f"application-setting-number-{i:04d}-secret",
                "field",
                None,
                "azure-prod" if i % 2 else "azure-shared",
            ),
        )
        for i in range(400)
    )
    manifest = _manifest(env)
    resolved = FakeResolvedEnv(
        tuple(
            FakeResolved(e.name, Secret("x" * 40), e.source, "0123456789abcdef0123456789abcdef", None)
            for e in env
        )
    )
    text = to_label(resolved, manifest)  # type: ignore[arg-type]
    assert len(text.encode()) < 70_000
    assert len(from_label(text)) == 400


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"v":1}',
        '{"v":2,"env":{}}',
        '{"env":{}}',
        '{"v":1,"env":{"A":"literal"}}',
        '{"v":1,"env":{"A":{"literal":"yes"}}}',
        '{"v":1,"env":{"A":{}}}',
        '{"v":1,"env":{"A":{"ref":"s"}}}',
        '{"v":1,"env":{"A":{"ref":5,"credential":"c"}}}',
        '{"v":1,"env":{"A":{"ref":"s","credential":"c","secret":5}}}',
        '{"v":1,"env":{"A":{"ref":"s","credential":"c","pinned":"yes"}}}',
        '{"v":1,"env":{"A":{"ref":"s","credential":"c","version":7}}}',
        '{"v":1,"credentials":{"c":{"vault_url":3}},"env":{"A":{"ref":"s","credential":"c"}}}',
        '{"v":1,"credentials":[],"env":{}}',
    ],
)
def test_from_label_raises_image_error_when_record_is_malformed(text: str) -> None:
    with pytest.raises(ImageError):
        from_label(text)


def test_fetch_key_asks_for_current_version_unless_pinned() -> None:
    unpinned = Origin("A", "secret", credential="c", secret="My-Secret", version="v1")
    pinned = Origin("B", "secret", credential="c", secret="s", version="v1", pinned=True)
    assert unpinned.fetch_key == ("c", "my-secret", None)
    assert pinned.fetch_key == ("c", "s", "v1")
    assert Origin("C", "literal").fetch_key is None


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
_secret_names = st.from_regex(r"[0-9a-zA-Z-]{1,30}", fullmatch=True)


@given(
    st.dictionaries(
        _names,
        st.one_of(
            st.none(),
            st.tuples(
                _secret_names,
                st.one_of(st.none(), st.text(max_size=10)),
                st.one_of(st.none(), st.text(max_size=33)),
                st.booleans(),
                st.one_of(st.none(), st.text(max_size=20)),
            ),
        ),
        max_size=8,
    )
)
def test_origins_round_trip_through_label_for_any_record(spec: dict[str, object]) -> None:
    origins = []
    for env, item in spec.items():
        if item is None:
            origins.append(Origin(env, "literal"))
        else:
            secret, key, version, pinned, odd_written = item  # type: ignore[misc]
            written = odd_written or (secret if key is None else f"{secret}#{key}")
            origins.append(Origin(env, "secret", "azure-prod", VAULT, secret, key, version, pinned, written))
    assert from_label(encode(tuple(origins))) == tuple(origins)


# -- the base an image was baked onto ---------------------------------------------------------------

BASE_DIGEST = "sha256:" + "ab" * 32


def test_the_base_round_trips_through_the_label_and_old_readers_ignore_it() -> None:
    text = provenance.encode((), provenance.BaseRecord("registry.example.com/app:1.4.2", BASE_DIGEST))
    assert provenance.base_of(text) == provenance.BaseRecord("registry.example.com/app:1.4.2", BASE_DIGEST)
    assert json.loads(text)["v"] == 1  # additive: the format version stays
    assert provenance.from_label(text) == ()


def test_a_label_without_a_base_has_none() -> None:
    assert provenance.base_of(provenance.encode(())) is None


@pytest.mark.parametrize(
    "base",
    [
        {"ref": "app:1"},
        {"ref": "app:1", "digest": "sha256:short"},
        {"ref": "", "digest": BASE_DIGEST},
        {"ref": 7, "digest": BASE_DIGEST},
        "app:1",
    ],
)
def test_a_malformed_base_is_an_image_error_not_a_bake_onto_something_else(base: object) -> None:
    text = json.dumps({"v": 1, "base": base, "credentials": {}, "env": {}})
    with pytest.raises(ImageError, match="base"):
        provenance.base_of(text)

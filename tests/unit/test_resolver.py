"""The resolver against a fake Provider: dedup, bounded concurrency, every failure, JSON keys, Ctrl-C."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

import baker.resolver as resolver
from baker.diagnose import Diagnosis
from baker.errors import ManifestError, ProviderError, ResolutionFailed
from baker.model import CredentialSpec, EnvEntry, ImageSpec, LiteralValue, Manifest, SecretRef
from baker.providers.base import FetchedSecret, SecretProperties
from baker.resolver import resolve
from baker.secret import MASK, REDACTOR, Secret
from tests.support.fakes import FakeProvider


def credential(name: str = "main", *, unset: tuple[str, ...] = (), default: bool = True) -> CredentialSpec:
    return CredentialSpec(
        name=name,
        provider="azure-key-vault",
        vault_url=f"https://{name}.vault.azure.net",
        tenant_id=None if unset else "t",
        client_id="c",
        client_secret=None if unset else Secret("client-secret-value-xyz"),
        is_default=default,
        line=3,
        unset_vars=unset,
    )


def ref(name: str, *, key: str | None = None, version: str | None = None, cred: str = "main") -> SecretRef:
    written = name + (f"#{key}" if key else "")
    return SecretRef(written=written, name=name.replace("_", "-"), key=key, version=version, credential=cred)


def manifest(env: dict[str, str | SecretRef], *creds: CredentialSpec) -> Manifest:
    creds = creds or (credential(),)
    entries = tuple(EnvEntry(k, LiteralValue(v) if isinstance(v, str) else v) for k, v in env.items())
    return Manifest(
        path="baker.yaml",
        image=ImageSpec(base="alpine:3", build=None),
        credentials={c.name: c for c in creds},
        env=entries,
    )


DB_JSON = '{"username": "app", "password": "p@ss w0rd$#\\"q", "port": 5432}'


def fake(**secrets: str) -> FakeProvider:
    return FakeProvider(credential(), {n.replace("_", "-"): (v, f"v-{n}") for n, v in secrets.items()})


def test_values_arrive_in_manifest_order_with_versions_when_all_references_resolve() -> None:
    provider = fake(openai_api_key="sk-demo-4f9a1c2e7b", database_credentials=DB_JSON)
    m = manifest(
        {
            "LOG_LEVEL": "info",
            "OPENAI_API_KEY": ref("openai-api-key"),
            "DB_PASSWORD": ref("database-credentials", key="password"),
            "DB_PORT": ref("database-credentials", key="port"),
        }
    )
    got = resolve(m, providers={"main": provider})
    assert [e.env for e in got.entries] == ["LOG_LEVEL", "OPENAI_API_KEY", "DB_PASSWORD", "DB_PORT"]
    assert got.build_args() == {
        "LOG_LEVEL": "info",
        "OPENAI_API_KEY": "sk-demo-4f9a1c2e7b",
        "DB_PASSWORD": 'p@ss w0rd$#"q',
        "DB_PORT": "5432",
    }
    versions = [e.version for e in got.entries]
    assert versions == [None, "v-openai_api_key", "v-database_credentials", "v-database_credentials"]
    assert all(isinstance(e.value, Secret) for e in got.entries)
    assert got.entries[0].properties is None


def test_each_distinct_secret_is_fetched_once_when_references_repeat_or_share_a_json_secret() -> None:
    provider = fake(a="value-a-1234", database_credentials=DB_JSON, db_password="hunter2-demo")
    m = manifest(
        {
            "A1": ref("a"),
            "A2": ref("a"),
            "A3": ref("A"),  # Key Vault names are case-insensitive
            "U": ref("database-credentials", key="username"),
            "P": ref("database-credentials", key="password"),
            "D1": ref("db_password"),  # underscore form and dash form are one secret
            "D2": ref("db-password"),
        }
    )
    resolve(m, providers={"main": provider})
    assert sorted(name.lower() for name, _ in provider.calls) == ["a", "database-credentials", "db-password"]


def test_pinned_and_current_versions_are_fetched_separately_when_both_are_referenced() -> None:
    provider = fake(legacy_key="legacy-v2-value")
    m = manifest({"NOW": ref("legacy-key"), "OLD": ref("legacy-key", version="4c5e" * 8)})
    got = resolve(m, providers={"main": provider})
    assert sorted(provider.calls, key=str) == sorted(
        [("legacy-key", None), ("legacy-key", "4c5e" * 8)], key=str
    )
    assert got.entries[1].version == "4c5e" * 8


def test_distinct_secrets_are_fetched_concurrently_within_the_bound_when_many() -> None:
    provider = fake(**{f"s{i}": f"value-{i:04d}" for i in range(12)})
    provider.delay = 0.05
    m = manifest({f"E{i}": ref(f"s{i}") for i in range(12)})
    resolve(m, providers={"main": provider}, max_workers=3)
    assert len(provider.calls) == 12
    assert 1 < provider.peak <= 3


def test_every_failed_env_var_is_named_when_several_references_fail() -> None:
    provider = fake(ok="fine-value-1", database_credentials=DB_JSON)
    provider.fail("gone", Diagnosis.SECRET_NOT_FOUND)
    provider.fail("off", Diagnosis.SECRET_DISABLED)
    m = manifest(
        {
            "OK": ref("ok"),
            "GONE": ref("gone"),
            "OFF": ref("off"),
            "NOKEY": ref("database-credentials", key="passwd"),
            "LIT": "literal",
        }
    )
    with pytest.raises(ResolutionFailed) as caught:
        resolve(m, providers={"main": provider})
    failures = caught.value.failures
    assert [(f.env, f.error.diagnosis) for f in failures] == [
        ("GONE", Diagnosis.SECRET_NOT_FOUND),
        ("OFF", Diagnosis.SECRET_DISABLED),
        ("NOKEY", Diagnosis.JSON_KEY_NOT_FOUND),
    ]
    lines = caught.value.message.splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["GONE", "OFF", "NOKEY"]


def test_a_failed_fetch_fails_every_env_var_sharing_it_when_referenced_twice() -> None:
    provider = fake()
    provider.fail("shared", Diagnosis.MISSING_ROLE)
    m = manifest({"X": ref("shared"), "Y": ref("shared", key="k"), "Z": ref("shared")})
    with pytest.raises(ResolutionFailed) as caught:
        resolve(m, providers={"main": provider})
    assert [f.env for f in caught.value.failures] == ["X", "Y", "Z"]
    assert {f.error.diagnosis for f in caught.value.failures} == {Diagnosis.MISSING_ROLE}
    assert len(provider.calls) == 1


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("not json at all: hunter2-secret", "password"),
        ('["an", "array-secret"]', "password"),
        ('{"user": "someone-secret"}', "password"),
        ('{"Password": "case-secret"}', "password"),
    ],
)
def test_json_key_not_found_without_showing_the_value_when_the_secret_lacks_the_key(
    value: str, key: str
) -> None:
    provider = fake(blob=value)
    with pytest.raises(ResolutionFailed) as caught:
        resolve(manifest({"K": ref("blob", key=key)}), providers={"main": provider})
    (failure,) = caught.value.failures
    assert failure.error.diagnosis is Diagnosis.JSON_KEY_NOT_FOUND
    assert failure.error.secret == "blob"
    for text in (str(caught.value), str(caught.value.to_json())):
        assert "hunter2-secret" not in text and "array-secret" not in text and "someone-secret" not in text
        assert "case-secret" not in text


def test_every_secret_value_is_masked_and_literals_are_not_when_resolved() -> None:
    provider = fake(api="resolved-api-value-77", database_credentials=DB_JSON)
    m = manifest(
        {"LIT": "literal-value-99", "API": ref("api"), "PW": ref("database-credentials", key="password")}
    )
    resolve(m, providers={"main": provider})
    line = 'saw literal-value-99 and resolved-api-value-77 and p@ss w0rd$#"q'
    # literals live in the manifest (in git): masking them would only hide useful output
    assert REDACTOR.redact(line) == f"saw literal-value-99 and {MASK} and {MASK}"


def test_unset_variables_of_a_used_credential_fail_before_any_fetch_when_resolving() -> None:
    shared = credential("shared", unset=("SHARED_CLIENT_SECRET", "SHARED_TENANT"), default=False)
    provider = fake(a="value-a-1234")
    m = manifest({"A": ref("a"), "B": ref("b", cred="shared")}, credential(), shared)
    with pytest.raises(ManifestError) as caught:
        resolve(m, providers={"main": provider, "shared": provider})
    text = caught.value.message
    assert "SHARED_CLIENT_SECRET" in text and "SHARED_TENANT" in text and "'shared'" in text and "B" in text
    assert provider.calls == []


def test_unset_variables_of_an_unused_credential_are_ignored_when_resolving() -> None:
    unused = credential("unused", unset=("UNUSED_SECRET",), default=False)
    got = resolve(manifest({"A": ref("a")}, credential(), unused), providers={"main": fake(a="value-a-1234")})
    assert got.build_args() == {"A": "value-a-1234"}


def test_providers_are_opened_per_used_credential_and_closed_when_none_are_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: dict[str, FakeProvider] = {}

    def open_provider(spec: CredentialSpec, *, workers: int) -> FakeProvider:
        if spec.name == "broken":
            raise ProviderError("cannot open", diagnosis=Diagnosis.AZURE_ERROR, credential=spec.name)
        opened[spec.name] = FakeProvider(spec, {"a": ("value-a-1234", "v1")})
        return opened[spec.name]

    monkeypatch.setattr(resolver, "open_provider", open_provider)
    creds = (credential(), credential("broken", default=False), credential("idle", default=False))
    m = manifest({"A": ref("a"), "B1": ref("b", cred="broken"), "B2": ref("c", cred="broken")}, *creds)
    with pytest.raises(ResolutionFailed) as caught:
        resolve(m)
    assert [f.env for f in caught.value.failures] == ["B1", "B2"]
    assert list(opened) == ["main"]
    assert opened["main"].closed


def test_a_bug_in_a_provider_propagates_when_it_is_not_a_provider_error() -> None:
    provider = fake()
    provider.errors["missing-in-fake"] = KeyError("missing-in-fake")
    with pytest.raises(KeyError):
        resolve(manifest({"A": ref("missing-in-fake")}), providers={"main": provider})


def test_ctrl_c_cancels_pending_fetches_and_reraises_when_interrupted() -> None:
    release = threading.Event()

    class Blocking(FakeProvider):
        def get_secret(self, name: str, version: str | None = None) -> FetchedSecret:
            with self.lock:
                self.calls.append((name, version))
                first = len(self.calls) == 1
            if first:
                _thread.interrupt_main()
            release.wait(10)
            finished.append(name)
            return FetchedSecret(Secret("value-xyz-123"), SecretProperties(name=name, version="v"))

    finished: list[str] = []
    provider = Blocking(credential())
    m = manifest({f"E{i}": ref(f"s{i}") for i in range(20)})
    try:
        with pytest.raises(KeyboardInterrupt):
            resolve(m, providers={"main": provider}, max_workers=2)
        # Ctrl-C reached the user while the running fetches were still blocked: it did not wait.
        assert finished == []
    finally:
        release.set()
    time.sleep(0.2)  # give a wrongly scheduled fetch the chance to start before counting
    assert len(provider.calls) <= 2  # the 18 fetches not yet started never start

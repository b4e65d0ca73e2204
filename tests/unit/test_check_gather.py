"""The fleet's offline rules: which manifests a directory stands for, who signs in as whom, and the
one-read-per-secret plan over fake providers (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from baker.commands._common import expand
from baker.errors import UsageError
from baker.model import CredentialSpec
from baker.providers.signin import SignIns, credential_identity
from baker.secret import Secret
from tests.support.fakes import FakeProvider


def spec(name: str = "prod", **overrides: object) -> CredentialSpec:
    values: dict[str, object] = {
        "name": name,
        "provider": "azure-key-vault",
        "vault_url": "https://one.vault.azure.net",
        "tenant_id": "T",
        "client_id": "C",
        "client_secret": Secret("client-secret-a"),
        "is_default": True,
        "line": 1,
    }
    values.update(overrides)
    return CredentialSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (spec("another-name"), True),
        (spec(vault_url="https://two.vault.azure.net"), True),
        (spec(tenant_id="t", client_id="c"), True),  # ids are case-insensitive
        (spec(authority_host="https://login.microsoftonline.com/"), True),
        (spec(tenant_id="T2"), False),
        (spec(client_id="C2"), False),
        (spec(authority_host="login.microsoftonline.us"), False),
    ],
)
def test_credential_identity_is_tenant_client_authority_and_kind_when_compared(
    other: CredentialSpec, same: bool
) -> None:
    assert (credential_identity(spec()) == credential_identity(other)) is same


def test_one_sign_in_per_identity_and_secret_when_credentials_are_named_apart() -> None:
    opened: list[FakeProvider] = []

    def open_provider(credential: CredentialSpec) -> FakeProvider:
        opened.append(FakeProvider(credential))
        return opened[-1]

    signins = SignIns(open_provider=open_provider)  # type: ignore[arg-type]
    for credential in (
        spec("prod"),
        spec("main"),
        spec("other-vault", vault_url="https://two.vault.azure.net"),
        spec("other-secret", client_secret=Secret("client-secret-b")),
    ):
        assert not isinstance(signins.provider(credential), Exception)
    assert sum(p.sign_ins for p in opened) == 2  # the second client secret signs in apart
    assert signins.key(spec("prod")) == signins.key(spec("main"))
    assert signins.key(spec("prod")) != signins.key(spec("x", vault_url="https://two.vault.azure.net"))
    signins.close()


def test_a_directory_stands_for_every_manifest_below_it_sorted_and_skipping_tool_directories(
    tmp_path: Path,
) -> None:
    for rel in (
        "b/baker.yaml",
        "a/x/baker.yaml",
        "a/baker.yaml",
        ".git/baker.yaml",
        "node_modules/m/baker.yaml",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("version: 1\n")
    (tmp_path / "a" / ".venv").mkdir()
    (tmp_path / "a" / ".venv" / "baker.yaml").write_text("version: 1\n")
    found = expand([tmp_path, tmp_path / "b" / "baker.yaml"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/baker.yaml",
        "a/x/baker.yaml",
        "b/baker.yaml",
    ]


def test_a_directory_without_manifests_is_bad_usage_when_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no baker\.yaml below"):
        expand([tmp_path])

"""AzureKeyVaultProvider's other calls against the emulator: sign_in, get_properties, list_secrets."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from baker.diagnose import Diagnosis
from baker.errors import ProviderError
from baker.model import CredentialSpec
from baker.providers.azure import AzureKeyVaultProvider
from baker.secret import Secret
from tests.support.resolve_world import (
    APP,
    APP_SECRET,
    DISABLED_VERSION,
    PINNED,
    TENANT,
    UNKNOWN_TENANT,
    World,
    world_fixture,  # noqa: F401 - the `world` fixture
)

pytestmark = pytest.mark.emulator

OpenProvider = Callable[..., AzureKeyVaultProvider]


@pytest.fixture
def open_provider(world: World) -> Iterator[OpenProvider]:
    opened: list[AzureKeyVaultProvider] = []

    def make(vault: str = "main", *, tenant: str = TENANT, secret: str = APP_SECRET) -> AzureKeyVaultProvider:
        spec = CredentialSpec(
            name="main",
            provider="azure-key-vault",
            vault_url=world.vault_url(vault),
            tenant_id=tenant,
            client_id=APP,
            client_secret=Secret(secret),
            is_default=True,
            line=None,
            authority_host=world.emu.authority_host,
        )
        opened.append(AzureKeyVaultProvider(spec, max_workers=4))
        return opened[-1]

    yield make
    for provider in opened:
        provider.close()


def test_sign_in_asks_entra_only_and_its_token_is_reused_when_the_vault_is_read_next(
    world: World, open_provider: OpenProvider
) -> None:
    provider = open_provider()
    provider.sign_in()
    assert world.vault_requests("main") == []
    assert world.token_requests() == 1
    assert provider.get_secret("openai-api-key").value.reveal() == "sk-demo-4f9a1c2e7b"
    assert world.token_requests() == 1


@pytest.mark.parametrize(
    ("options", "diagnosis"),
    [
        ({"secret": "wrong-secret-value-1"}, Diagnosis.INVALID_CLIENT_SECRET),
        ({"tenant": UNKNOWN_TENANT}, Diagnosis.TENANT_NOT_FOUND),
    ],
)
def test_sign_in_fails_with_its_diagnosis_when_entra_refuses(
    world: World, open_provider: OpenProvider, options: dict[str, str], diagnosis: Diagnosis
) -> None:
    provider = open_provider(**options)
    with pytest.raises(ProviderError) as caught:
        provider.sign_in()
    assert caught.value.diagnosis is diagnosis
    assert world.vault_requests("main") == []


def test_current_properties_follow_a_rotation_without_reading_the_value_when_asked(
    world: World, open_provider: OpenProvider
) -> None:
    provider = open_provider()
    before = provider.get_properties("legacy-key")
    assert before.version not in {None, PINNED}
    rotated = world.emu.set_secret("main", "legacy-key", "legacy-v3-value")
    after = provider.get_properties("legacy-key")
    assert after.version == rotated
    paths = [path for _, path, status in world.vault_requests("main") if status == 200]
    assert paths == ["/secrets/legacy-key/versions", "/secrets/legacy-key/versions"]


def test_current_version_is_the_newest_when_versions_list_by_id_and_share_a_second(
    world: World, open_provider: OpenProvider
) -> None:
    # Key Vault lists versions by id, not by age, and dates them to the second: rotations within
    # one second whose newest id sorts first must still give the version GET /secrets/NAME gives.
    provider = open_provider()
    world.emu.set_secret("main", "legacy-key", "legacy-v3-value", version="f" * 32)
    newest = world.emu.set_secret("main", "legacy-key", "legacy-v4-value", version="0" * 32)
    assert provider.get_properties("legacy-key").version == newest
    assert provider.get_secret("legacy-key").properties.version == newest


def test_a_secret_with_no_versions_listed_is_not_found(world: World, open_provider: OpenProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        open_provider().get_properties("never-created")
    assert caught.value.diagnosis is Diagnosis.SECRET_NOT_FOUND


def test_a_pinned_and_a_disabled_version_are_described_when_asked(
    world: World, open_provider: OpenProvider
) -> None:
    provider = open_provider()
    assert provider.get_properties("legacy-key", PINNED).version == PINNED
    disabled = provider.get_properties("old-version-off", DISABLED_VERSION)
    assert disabled.enabled is False
    world.emu.set_enabled("main", "openai-api-key", False)
    assert provider.get_properties("openai-api-key").enabled is False


def test_a_deleted_secret_is_not_found_when_its_properties_are_asked(
    world: World, open_provider: OpenProvider
) -> None:
    provider = open_provider()
    world.emu.delete_secret("main", "db-password")
    with pytest.raises(ProviderError) as caught:
        provider.get_properties("db-password")
    assert caught.value.diagnosis is Diagnosis.SECRET_NOT_FOUND


def test_every_secret_name_is_listed_across_pages_when_the_vault_has_many(
    world: World, open_provider: OpenProvider
) -> None:
    for i in range(30):
        world.emu.set_secret("main", f"extra-{i:02d}", f"extra-value-{i:02d}")
    names = {p.name for p in open_provider().list_secrets()}
    assert {f"extra-{i:02d}" for i in range(30)} | {"openai-api-key", "legacy-key"} <= names
    lists = [
        path for method, path, _ in world.vault_requests("main") if path == "/secrets" and method == "GET"
    ]
    assert len(lists) >= 2  # more than one page (plus the challenge)


def test_listing_fails_with_a_diagnosis_when_the_app_may_not_list(
    world: World, open_provider: OpenProvider
) -> None:
    provider = open_provider("shared")
    with pytest.raises(ProviderError) as caught:
        list(provider.list_secrets())
    assert caught.value.diagnosis is Diagnosis.MISSING_ROLE

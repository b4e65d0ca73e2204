"""Key Vault authorization and errors: RBAC (vault and per-secret), access policies, disabled,
missing, bad names — each as the real SDK surfaces it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from baker.emulator import Emulator
from tests.support.fixtures_emulator import small_world

pytestmark = pytest.mark.emulator

TENANT = "11111111-2222-3333-4444-555555555555"
OWNER, READER, STRANGER, POLICY = (
    "aaaaaaaa-0000-4000-8000-000000000001",
    "aaaaaaaa-0000-4000-8000-000000000002",
    "aaaaaaaa-0000-4000-8000-000000000003",
    "aaaaaaaa-0000-4000-8000-000000000004",
)
WORLD = small_world(
    tenant=TENANT,
    apps={
        OWNER: "owner-secret",
        READER: "reader-secret",
        STRANGER: "stranger-secret",
        POLICY: "policy-secret",
    },
    vaults={
        "rbac-vault": {
            "model": "rbac",
            "grants": [{"app": OWNER, "scope": "vault"}, {"app": READER, "secrets": ["shared"]}],
            "secrets": {"shared": "shared-value", "private": "private-value"},
        },
        "legacy-vault": {
            "model": "access-policy",
            "grants": [{"app": POLICY, "permissions": ["get"]}],
            "secrets": {"shared": "legacy-value"},
        },
    },
)


@pytest.fixture
def emu(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory(WORLD)


@pytest.fixture
def client_for(
    emu: Emulator, make_credential: Callable[..., Any], make_client: Callable[..., Any]
) -> Callable[..., Any]:
    secrets = {
        OWNER: "owner-secret",
        READER: "reader-secret",
        STRANGER: "stranger-secret",
        POLICY: "policy-secret",
    }

    def make(app: str, vault: str = "rbac-vault") -> Any:
        return make_client(
            emu, vault, credential=make_credential(emu, tenant=TENANT, client_id=app, secret=secrets[app])
        )

    return make


def _inner(error: HttpResponseError) -> str | None:
    assert error.error is not None
    inner = error.error.innererror or {}
    return inner.get("code") if isinstance(inner, dict) else None


def test_vault_grant_allows_get_and_list(client_for: Callable[..., Any]) -> None:
    client = client_for(OWNER)
    assert client.get_secret("private").value == "private-value"
    assert sorted(p.name for p in client.list_properties_of_secrets()) == ["private", "shared"]


def test_per_secret_grant_allows_get_of_that_secret(client_for: Callable[..., Any]) -> None:
    assert client_for(READER).get_secret("shared").value == "shared-value"


@pytest.mark.parametrize(
    ("call", "action"),
    [
        (lambda c: c.get_secret("private"), "Microsoft.KeyVault/vaults/secrets/getSecret/action"),
        (
            lambda c: list(c.list_properties_of_secrets()),
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ),
    ],
    ids=["get-other-secret", "list-vault"],
)
def test_per_secret_grant_is_refused_by_rbac_outside_its_secrets(
    client_for: Callable[..., Any], call: Callable[[Any], Any], action: str
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        call(client_for(READER))
    error = caught.value
    assert (error.status_code, error.error.code, _inner(error)) == (403, "Forbidden", "ForbiddenByRbac")
    assert f"Action: '{action}'" in error.message


def test_app_without_grant_is_refused_by_rbac(client_for: Callable[..., Any]) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client_for(STRANGER).get_secret("shared")
    assert (caught.value.status_code, _inner(caught.value)) == (403, "ForbiddenByRbac")


def test_access_policy_vault_refuses_app_without_policy(client_for: Callable[..., Any]) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client_for(OWNER, "legacy-vault").get_secret("shared")
    error = caught.value
    assert (error.status_code, error.error.code, _inner(error)) == (403, "Forbidden", "AccessDenied")
    assert "does not have secrets get permission on key vault 'legacy-vault" in error.message


def test_access_policy_vault_allows_listed_permission_only(client_for: Callable[..., Any]) -> None:
    client = client_for(POLICY, "legacy-vault")
    assert client.get_secret("shared").value == "legacy-value"
    with pytest.raises(HttpResponseError) as caught:
        list(client.list_properties_of_secrets())
    assert _inner(caught.value) == "AccessDenied"
    assert "secrets list permission" in caught.value.message


def test_missing_secret_raises_resource_not_found(client_for: Callable[..., Any]) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        client_for(OWNER).get_secret("nope")
    assert caught.value.error.code == "SecretNotFound"
    assert "A secret with (name/id) nope was not found in this key vault" in caught.value.message


def test_missing_version_raises_resource_not_found(client_for: Callable[..., Any]) -> None:
    with pytest.raises(ResourceNotFoundError):
        client_for(OWNER).get_secret("shared", "0" * 32)


def test_disabled_secret_is_forbidden(emu: Emulator, client_for: Callable[..., Any]) -> None:
    emu.set_enabled("rbac-vault", "shared", False)
    with pytest.raises(HttpResponseError) as caught:
        client_for(OWNER).get_secret("shared")
    error = caught.value
    assert (error.status_code, error.error.code, _inner(error)) == (403, "Forbidden", "SecretDisabled")
    assert "Operation get is not allowed on a disabled secret." in error.message


def test_invalid_name_is_a_bad_parameter(client_for: Callable[..., Any]) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client_for(OWNER).get_secret("not_valid")
    assert (caught.value.status_code, caught.value.error.code) == (400, "BadParameter")


def test_vault_refuses_token_of_another_tenant(
    emulator_factory: Callable[..., Emulator], make_credential: Callable[..., Any]
) -> None:
    import requests

    other = "99999999-8888-4777-8666-555555555555"
    world = small_world(
        tenant=TENANT,
        apps={OWNER: "owner-secret"},
        vaults={"rbac-vault": {"grants": [{"app": OWNER, "scope": "vault"}]}},
    )
    world["tenants"][other] = {"apps": {OWNER: {"secrets": ["owner-secret"]}}}  # a multi-tenant app
    emu = emulator_factory(world)
    token = make_credential(emu, tenant=other, client_id=OWNER, secret="owner-secret").get_token(
        f"https://vault.localhost:{emu.port}/.default"
    )
    response = requests.get(
        f"{emu.vault_url('rbac-vault')}/secrets?api-version=2026-04-01",
        headers={"Authorization": f"Bearer {token.token}"},
        verify=str(emu.ca_bundle),
        timeout=10,
    )
    assert response.status_code == 401
    assert "AKV10032" in response.json()["error"]["message"]
    assert f'authorization="{emu.authority_host}/{TENANT}"' in response.headers["WWW-Authenticate"]

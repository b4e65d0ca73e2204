"""Entra side: discovery documents, the token endpoint, and the AADSTS errors azure-identity surfaces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError

from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from tests.support.fixtures_emulator import small_world

pytestmark = pytest.mark.emulator

OTHER_APP = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


def _get(emu: Emulator, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{emu.authority_host}{path}", verify=str(emu.ca_bundle), timeout=10, **kwargs)


def test_openid_configuration_names_the_endpoints_when_tenant_known(emulator: Emulator) -> None:
    response = _get(emulator, f"/{TENANT}/v2.0/.well-known/openid-configuration")
    doc = response.json()
    assert response.status_code == 200
    assert doc["token_endpoint"] == f"{emulator.authority_host}/{TENANT}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{emulator.authority_host}/{TENANT}/oauth2/v2.0/authorize"
    assert doc["issuer"] == f"{emulator.authority_host}/{TENANT}/v2.0"


def test_openid_configuration_answers_90002_when_tenant_unknown(emulator: Emulator) -> None:
    response = _get(emulator, "/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration")
    body = response.json()
    assert (response.status_code, body["error"], body["error_codes"]) == (400, "invalid_tenant", [90002])
    assert body["error_description"].startswith("AADSTS90002: Tenant '00000000-0000-0000-0000-000000000000'")
    assert "\r\nTrace ID: " in body["error_description"]
    assert "\r\nCorrelation ID: " in body["error_description"]
    assert {"trace_id", "correlation_id", "timestamp", "error_uri"} <= set(body)


def test_token_endpoint_answers_invalid_request_90002_when_tenant_unknown(emulator: Emulator) -> None:
    tenant = "00000000-0000-0000-0000-000000000000"
    response = requests.post(
        f"{emulator.authority_host}/{tenant}/oauth2/v2.0/token",
        data={
            "client_id": CLIENT_ID,
            "grant_type": "client_credentials",
            "client_secret": "not-a-real-secret-0",
            "scope": f"https://vault.localhost:{emulator.port}/.default",
        },
        verify=str(emulator.ca_bundle),
        timeout=10,
    )
    body = response.json()
    assert (response.status_code, body["error"], body["error_codes"]) == (400, "invalid_request", [90002])
    assert body["error_description"].startswith(f"AADSTS90002: Tenant '{tenant}' not found.")
    assert "\r\nTrace ID: " in body["error_description"]
    assert {"trace_id", "correlation_id", "timestamp", "error_uri"} <= set(body)


def test_instance_discovery_points_at_the_tenant_configuration(emulator: Emulator) -> None:
    endpoint = f"{emulator.authority_host}/{TENANT}/oauth2/v2.0/authorize"
    response = _get(
        emulator,
        "/common/discovery/instance",
        params={"authorization_endpoint": endpoint, "api-version": "1.0"},
    )
    assert response.json()["tenant_discovery_endpoint"] == (
        f"{emulator.authority_host}/{TENANT}/v2.0/.well-known/openid-configuration"
    )


def test_token_has_entra_shape_when_credentials_valid(
    emulator: Emulator, make_credential: Callable[..., Any]
) -> None:
    token = make_credential(emulator).get_token(f"https://vault.localhost:{emulator.port}/.default")
    assert token.token.count(".") == 2
    assert 3500 < token.expires_on - __import__("time").time() <= 3600


def test_token_request_fails_with_aadsts1002012_when_scope_lacks_default(
    emulator: Emulator, make_credential: Callable[..., Any]
) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS1002012"):
        make_credential(emulator).get_token(f"https://vault.localhost:{emulator.port}/user_impersonation")


@pytest.mark.parametrize(
    ("tenant", "client_id", "secret", "expected"),
    [
        (TENANT, CLIENT_ID, "wrong-secret", "AADSTS7000215"),
        (TENANT, CLIENT_ID, "old-secret", "AADSTS7000222"),
        (TENANT, "99999999-9999-4999-8999-999999999999", CLIENT_SECRET, "AADSTS700016"),
        (
            "00000000-0000-0000-0000-000000000000",
            CLIENT_ID,
            CLIENT_SECRET,
            "Unable to get authority configuration",
        ),
    ],
    ids=["wrong-secret", "expired-secret", "unknown-app", "unknown-tenant"],
)
def test_secret_client_raises_client_authentication_error_when_sign_in_fails(
    emulator_factory: Callable[..., Emulator],
    make_credential: Callable[..., Any],
    make_client: Callable[..., Any],
    tenant: str,
    client_id: str,
    secret: str,
    expected: str,
) -> None:
    world = small_world(
        tenant=TENANT,
        apps={CLIENT_ID: [CLIENT_SECRET, {"value": "old-secret", "expired": True}]},
        vaults={"demo": {"grants": [{"app": CLIENT_ID, "scope": "vault"}], "secrets": {"a": "b"}}},
    )
    emu = emulator_factory(world)
    credential = make_credential(emu, tenant=tenant, client_id=client_id, secret=secret)
    with pytest.raises(ClientAuthenticationError, match=expected):
        if tenant == TENANT:
            make_client(emu, credential=credential).get_secret("a")
        else:  # the vault's challenge names the vault's tenant, which azure-identity would refuse first
            credential.get_token(f"https://vault.localhost:{emu.port}/.default")


def test_vault_refuses_token_for_another_resource(
    emulator: Emulator, make_credential: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    inner = make_credential(emulator)

    class WrongAudience:
        """A credential that asks Entra for a token to some other API, whatever the vault wants."""

        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            return inner.get_token(f"https://management.localhost:{emulator.port}/.default")

    with pytest.raises(ClientAuthenticationError) as caught:
        make_client(emulator, credential=WrongAudience()).get_secret("db-password")
    assert caught.value.status_code == 401
    assert "AKV10022" in str(caught.value)


def test_vault_challenge_names_tenant_and_resource_when_no_token(emulator: Emulator) -> None:
    response = requests.get(
        f"{emulator.vault_url('demo')}/secrets/db-password/?api-version=2026-04-01",
        verify=str(emulator.ca_bundle),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer authorization="{emulator.authority_host}/{TENANT}", resource="https://vault.localhost:{emulator.port}"'
    )
    assert response.json() == {
        "error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}
    }

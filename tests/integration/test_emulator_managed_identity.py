"""The App Service / Container Apps managed identity endpoint, through the UNMODIFIED
ManagedIdentityCredential (IDENTITY_ENDPOINT + IDENTITY_HEADER), and on the wire."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ManagedIdentityCredential

from baker.emulator import Emulator
from tests.support.fixtures_emulator import (
    KEYLESS_VALUE,
    KEYLESS_VAULT,
    SYSTEM_IDENTITY,
    UNGRANTED_IDENTITY,
    USER_IDENTITY,
)

pytestmark = pytest.mark.emulator


@pytest.fixture
def identity_env(keyless_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = keyless_emulator.managed_identity_env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _client(emu: Emulator, make_client: Callable[..., Any], **credential_kwargs: Any) -> Any:
    return make_client(emu, vault=KEYLESS_VAULT, credential=ManagedIdentityCredential(**credential_kwargs))


def test_system_assigned_identity_reads_secret(
    keyless_emulator: Emulator, identity_env: dict[str, str], make_client: Callable[..., Any]
) -> None:
    assert _client(keyless_emulator, make_client).get_secret("value").value == KEYLESS_VALUE
    assert [r.host for r in keyless_emulator.requests()].count("identity.localhost") == 1


def test_user_assigned_identity_reads_secret_granted_to_it(
    keyless_emulator: Emulator, identity_env: dict[str, str], make_client: Callable[..., Any]
) -> None:
    client = _client(keyless_emulator, make_client, client_id=USER_IDENTITY)
    assert client.get_secret("value").value == KEYLESS_VALUE


def test_identity_without_grant_is_forbidden_by_rbac(
    keyless_emulator: Emulator, identity_env: dict[str, str], make_client: Callable[..., Any]
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        _client(keyless_emulator, make_client, client_id=UNGRANTED_IDENTITY).get_secret("value")
    assert caught.value.status_code == 403
    assert "ForbiddenByRbac" in str(caught.value)
    assert f"appid={UNGRANTED_IDENTITY}" in str(caught.value)


@pytest.mark.parametrize(
    ("header", "client_id", "expected"),
    [
        (
            "wrong-header",
            None,
            r"\(invalid_scope\) 401, The X-IDENTITY-HEADER header is missing or does not match",
        ),
        (
            None,
            "99999999-0000-4000-8000-000000000009",
            r"\(invalid_scope\) 400, Unable to load the proper Managed",
        ),
    ],
    ids=["wrong-header", "unknown-user-assigned"],
)
def test_credential_reports_endpoint_refusal(
    keyless_emulator: Emulator,
    identity_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    header: str | None,
    client_id: str | None,
    expected: str,
) -> None:
    if header is not None:
        monkeypatch.setenv("IDENTITY_HEADER", header)
    credential = ManagedIdentityCredential(client_id=client_id)
    with pytest.raises(ClientAuthenticationError, match=expected):
        credential.get_token(f"https://vault.localhost:{keyless_emulator.port}/.default")


def test_endpoint_answers_app_service_shape(keyless_emulator: Emulator, identity_env: dict[str, str]) -> None:
    resource = f"https://vault.localhost:{keyless_emulator.port}"
    answer = requests.get(
        identity_env["IDENTITY_ENDPOINT"],
        params={"resource": resource, "api-version": "2019-08-01"},
        headers={"X-IDENTITY-HEADER": identity_env["IDENTITY_HEADER"]},
        timeout=10,
    )
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert (body["resource"], body["token_type"], body["client_id"]) == (resource, "Bearer", SYSTEM_IDENTITY)
    assert isinstance(body["expires_on"], str) and 3500 < int(body["expires_on"]) - time.time() <= 3600


def test_endpoint_refuses_missing_header_with_status_document(
    keyless_emulator: Emulator, identity_env: dict[str, str]
) -> None:
    answer = requests.get(
        identity_env["IDENTITY_ENDPOINT"],
        params={"resource": "https://vault.azure.net", "api-version": "2019-08-01"},
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.json()["statusCode"] == 401
    assert "access_token" not in answer.json()

"""Workload identity federation against the emulator, with the UNMODIFIED azure-identity credentials:
the emulator's OIDC issuer, GitHub Actions' and Azure Pipelines' token endpoints, and Entra's answers
to each kind of bad client assertion."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import AzurePipelinesCredential, WorkloadIdentityCredential

from baker.emulator import Emulator
from tests.support.fixtures_emulator import (
    FEDERATED_APP,
    GITHUB_SUBJECT,
    KEYLESS_TENANT,
    KEYLESS_VALUE,
    KEYLESS_VAULT,
    SERVICE_CONNECTION,
    keyless_world,
)

pytestmark = pytest.mark.emulator

AUDIENCE = "api://AzureADTokenExchange"
K8S_SUBJECT = "system:serviceaccount:ns:app"


def _github_token(env: dict[str, str], audience: str | None = AUDIENCE, token: str | None = None) -> Any:
    url = env["ACTIONS_ID_TOKEN_REQUEST_URL"] + (f"&audience={audience}" if audience else "")
    bearer = env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] if token is None else token
    return requests.get(url, headers={"Authorization": f"bearer {bearer}"}, timeout=10)


def _read(emu: Emulator, credential: Any, make_client: Callable[..., Any]) -> str:
    return str(make_client(emu, vault=KEYLESS_VAULT, credential=credential).get_secret("value").value)


def _sign_ins(emu: Emulator) -> int:
    return sum(1 for r in emu.requests() if r.host == "login.localhost" and r.path.endswith("/token"))


# --- the flows that work ----------------------------------------------------------------------------


def test_client_assertion_credential_reads_secret_with_token_of_emulator_issuer(
    keyless_emulator: Emulator, make_assertion_credential: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    emu = keyless_emulator
    credential = make_assertion_credential(emu, lambda: emu.mint_id_token(K8S_SUBJECT))
    assert _read(emu, credential, make_client) == KEYLESS_VALUE
    assert _sign_ins(emu) == 1


def test_workload_identity_credential_reads_secret_from_token_file(
    keyless_emulator: Emulator,
    make_client: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu = keyless_emulator
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(emu.mint_id_token(K8S_SUBJECT))
    monkeypatch.setenv("AZURE_TENANT_ID", KEYLESS_TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", FEDERATED_APP)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    credential = WorkloadIdentityCredential(
        disable_instance_discovery=True, connection_verify=str(emu.ca_bundle)
    )
    assert _read(emu, credential, make_client) == KEYLESS_VALUE


def test_github_actions_flow_fetches_token_then_exchanges_it(
    keyless_emulator: Emulator, make_assertion_credential: Callable[..., Any], make_client: Callable[..., Any]
) -> None:
    emu = keyless_emulator
    env = emu.github_actions_env()
    fetched: list[str] = []

    def github_token() -> str:
        answer = _github_token(env)
        assert answer.status_code == 200 and answer.json()["count"] == 1
        fetched.append(answer.json()["value"])
        return fetched[-1]

    assert _read(emu, make_assertion_credential(emu, github_token), make_client) == KEYLESS_VALUE
    claims = jwt.decode(fetched[0], options={"verify_signature": False})
    assert (claims["iss"], claims["sub"], claims["aud"]) == (
        emu.oidc_issuer("/github"),
        GITHUB_SUBJECT,
        AUDIENCE,
    )
    assert 295 <= claims["exp"] - claims["iat"] <= 300
    assert [r.host for r in emu.requests()].count("github.localhost") == 1


def test_github_endpoint_defaults_audience_to_the_repository_owner(keyless_emulator: Emulator) -> None:
    answer = _github_token(keyless_emulator.github_actions_env(), audience=None)
    claims = jwt.decode(answer.json()["value"], options={"verify_signature": False})
    assert claims["aud"] == "https://github.com/baker-org"


@pytest.mark.parametrize("token", ["wrong-request-token", ""], ids=["wrong", "missing"])
def test_github_endpoint_answers_401_when_request_token_is_wrong(
    keyless_emulator: Emulator, token: str
) -> None:
    answer = _github_token(keyless_emulator.github_actions_env(), token=token)
    assert answer.status_code == 401
    assert answer.json()["typeKey"] == "UnauthorizedRequestException"
    assert "value" not in answer.json()


def test_github_token_expiring_mid_run_is_refused_then_fetched_again(
    keyless_emulator: Emulator, make_assertion_credential: Callable[..., Any]
) -> None:
    emu = keyless_emulator
    env = emu.github_actions_env(subject=GITHUB_SUBJECT, token_lifetime=1)
    stale = _github_token(env).json()["value"]
    time.sleep(2.1)
    scope = f"https://vault.localhost:{emu.port}/.default"
    with pytest.raises(
        ClientAuthenticationError, match="AADSTS700024: Client assertion is not within its valid"
    ):
        make_assertion_credential(emu, lambda: stale).get_token(scope)
    # Fetched again (the same job's subject): with a lifetime left to present it in, as the run's own
    # token has (a 1 s one expired on a loaded machine before it was presented).
    fresh = _github_token(emu.github_actions_env(subject=GITHUB_SUBJECT, token_lifetime=60)).json()["value"]
    assert make_assertion_credential(emu, lambda: fresh).get_token(scope).token.count(".") == 2


def test_azure_pipelines_credential_reads_secret(
    keyless_emulator: Emulator, make_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = keyless_emulator
    env = emu.azure_pipelines_env()
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", env["SYSTEM_OIDCREQUESTURI"])
    credential = AzurePipelinesCredential(
        tenant_id=KEYLESS_TENANT,
        client_id=FEDERATED_APP,
        service_connection_id=SERVICE_CONNECTION,
        system_access_token=env["SYSTEM_ACCESSTOKEN"],
        authority=emu.authority_host,
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_bundle),
    )
    assert _read(emu, credential, make_client) == KEYLESS_VALUE
    assert [(r.method, r.host) for r in emu.requests()].count(("POST", "devops.localhost")) == 1


@pytest.mark.parametrize(
    ("connection", "access_token", "expected"),
    [
        (SERVICE_CONNECTION, "not-the-access-token", "TF400813: The user '' is not authorized"),
        (
            "00000000-0000-4000-8000-000000000000",
            None,
            "Service connection '00000000-0000-4000-8000-000000000000' not",
        ),
    ],
    ids=["wrong-access-token", "unknown-service-connection"],
)
def test_azure_pipelines_credential_fails_when_oidc_request_refused(
    keyless_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    connection: str,
    access_token: str | None,
    expected: str,
) -> None:
    emu = keyless_emulator
    env = emu.azure_pipelines_env()
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", env["SYSTEM_OIDCREQUESTURI"])
    credential = AzurePipelinesCredential(
        tenant_id=KEYLESS_TENANT,
        client_id=FEDERATED_APP,
        service_connection_id=connection,
        system_access_token=access_token or env["SYSTEM_ACCESSTOKEN"],
        authority=emu.authority_host,
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_bundle),
    )
    # azure-core reads the message of Azure DevOps' error body into the exception
    with pytest.raises(ClientAuthenticationError, match=expected):
        credential.get_token(f"https://vault.localhost:{emu.port}/.default")
    assert _sign_ins(emu) == 0


# --- what Entra answers to bad assertions -------------------------------------------------------------


def _foreign_world() -> dict[str, Any]:
    world = keyless_world()
    app = world["tenants"][KEYLESS_TENANT]["apps"][FEDERATED_APP]
    app["federated_credentials"].append(
        {"issuer": "https://token.actions.githubusercontent.com", "subject": GITHUB_SUBJECT}
    )
    return world


@pytest.mark.parametrize(
    ("mint", "expected"),
    [
        (
            lambda e: e.mint_id_token(K8S_SUBJECT, issuer="/elsewhere"),
            "AADSTS700211: No matching federated identity",
        ),
        (
            lambda e: e.mint_id_token("system:serviceaccount:ns:other"),
            "AADSTS700213: No matching federated identity",
        ),
        (
            lambda e: e.mint_id_token("System:ServiceAccount:ns:app"),
            "AADSTS700213: No matching federated identity",
        ),
        (
            lambda e: e.mint_id_token(K8S_SUBJECT, audience="api://other"),
            "AADSTS700212: No matching federated",
        ),
        (
            lambda e: e.mint_id_token(K8S_SUBJECT, expires=time.time() - 60),
            "AADSTS700024: Client assertion is not",
        ),
        (
            lambda e: e.mint_id_token(K8S_SUBJECT, not_before=time.time() + 3600, expires=time.time() + 7200),
            "AADSTS700024: Client assertion is not within its valid time range",
        ),
        (lambda e: "not-a-jwt", "AADSTS50027: JWT token is invalid or malformed"),
        (
            lambda e: jwt.encode({"iss": "x"}, "k" * 32, algorithm="HS256"),
            "AADSTS50027: JWT token is invalid",
        ),
        (
            lambda e: e.mint_id_token(GITHUB_SUBJECT, issuer="https://token.actions.githubusercontent.com"),
            "AADSTS50013: Assertion failed signature validation",
        ),
    ],
    ids=[
        "issuer",
        "subject",
        "subject-case",
        "audience",
        "expired",
        "not-yet-valid",
        "malformed",
        "no-claims",
        "foreign-issuer",
    ],
)
def test_secret_client_sees_entra_code_when_assertion_is_refused(
    emulator_factory: Callable[..., Emulator],
    make_assertion_credential: Callable[..., Any],
    make_client: Callable[..., Any],
    mint: Callable[[Emulator], str],
    expected: str,
) -> None:
    emu = emulator_factory(_foreign_world())
    credential = make_assertion_credential(emu, lambda: mint(emu))
    with pytest.raises(ClientAuthenticationError, match=expected):
        make_client(emu, vault=KEYLESS_VAULT, credential=credential).get_secret("value")


def test_token_of_another_key_fails_signature_validation(
    keyless_emulator: Emulator,
    emulator_factory: Callable[..., Emulator],
    make_assertion_credential: Callable[..., Any],
) -> None:
    other = emulator_factory(keyless_world())
    # the other emulator's issuer at this one's port: the same issuer name, another signing key
    token = other.mint_id_token(K8S_SUBJECT, issuer=keyless_emulator.oidc_issuer())
    credential = make_assertion_credential(keyless_emulator, lambda: token)
    with pytest.raises(ClientAuthenticationError, match="AADSTS50013"):
        credential.get_token(f"https://vault.localhost:{keyless_emulator.port}/.default")


def test_app_without_federated_credentials_answers_70021_naming_the_assertion(
    emulator: Emulator, make_client: Callable[..., Any], make_assertion_credential: Callable[..., Any]
) -> None:
    from baker.emulator.demo import CLIENT_ID, TENANT

    token = emulator.mint_id_token(K8S_SUBJECT)
    credential = make_assertion_credential(emulator, lambda: token, tenant=TENANT, client_id=CLIENT_ID)
    with pytest.raises(ClientAuthenticationError) as caught:
        credential.get_token(f"https://vault.localhost:{emulator.port}/.default")
    message = str(caught.value)
    assert "(invalid_request) AADSTS70021: No matching federated identity record found" in message
    assert f"Assertion Issuer: '{emulator.oidc_issuer()}'. Assertion Subject: '{K8S_SUBJECT}'." in message
    assert f"Assertion Audience: '{AUDIENCE}'." in message


def test_entra_answers_split_codes_as_invalid_client_with_error_codes(keyless_emulator: Emulator) -> None:
    emu = keyless_emulator
    answer = requests.post(
        f"{emu.authority_host}/{KEYLESS_TENANT}/oauth2/v2.0/token",
        data={
            "client_id": FEDERATED_APP,
            "grant_type": "client_credentials",
            "scope": f"https://vault.localhost:{emu.port}/.default",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": emu.mint_id_token(K8S_SUBJECT, audience="api://other"),
        },
        timeout=10,
    )
    body = answer.json()
    assert (answer.status_code, body["error"], body["error_codes"]) == (401, "invalid_client", [700212])
    assert "\r\nTrace ID: " in body["error_description"]


def test_client_secret_is_refused_for_app_with_only_federated_credentials(
    keyless_emulator: Emulator, make_credential: Callable[..., Any]
) -> None:
    credential = make_credential(
        keyless_emulator, tenant=KEYLESS_TENANT, client_id=FEDERATED_APP, secret="guess"
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token(f"https://vault.localhost:{keyless_emulator.port}/.default")


# --- the issuer's documents and the admin API ---------------------------------------------------------


def test_issuer_publishes_discovery_and_jwks_that_verify_its_tokens(keyless_emulator: Emulator) -> None:
    emu = keyless_emulator
    issuer = emu.oidc_issuer("/github")
    config = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert (config["issuer"], config["jwks_uri"]) == (issuer, f"{issuer}/.well-known/jwks")
    keys = requests.get(config["jwks_uri"], timeout=10).json()["keys"]
    token = emu.mint_id_token(GITHUB_SUBJECT, issuer="/github")
    key = jwt.PyJWK(keys[0])
    assert key.key_id == jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer)
    assert claims["sub"] == GITHUB_SUBJECT


def test_admin_api_mints_tokens_and_lists_the_keyless_environment(keyless_emulator: Emulator) -> None:
    emu = keyless_emulator
    minted = requests.post(
        f"{emu.admin_url}/oidc/tokens", json={"subject": "s", "issuer": "/x", "expires": 1000}, timeout=10
    )
    claims = jwt.decode(minted.json()["token"], options={"verify_signature": False})
    assert (claims["iss"], claims["sub"], claims["aud"], claims["exp"]) == (
        emu.oidc_issuer("/x"),
        "s",
        AUDIENCE,
        1000,
    )
    keyless = requests.get(f"{emu.admin_url}/keyless", timeout=10).json()
    assert keyless["oidc_issuer"] == emu.oidc_issuer()
    assert keyless["github_actions"] == emu.github_actions_env()
    assert keyless["managed_identity"] == emu.managed_identity_env()
    job = requests.post(f"{emu.admin_url}/github/jobs", json={"subject": "repo:a/b:pull_request"}, timeout=10)
    fetched = _github_token(job.json()).json()["value"]
    assert jwt.decode(fetched, options={"verify_signature": False})["sub"] == "repo:a/b:pull_request"

"""Get, get by version, list with paging, list versions, attributes: the real SDK over TLS."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, LEGACY_V1, TENANT

pytestmark = pytest.mark.emulator


def _world(secrets: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenants": {TENANT: {"apps": {CLIENT_ID: {"secrets": [CLIENT_SECRET]}}}},
        "vaults": {
            "vault1": {"tenant": TENANT, "grants": [{"app": CLIENT_ID, "scope": "vault"}], "secrets": secrets}
        },
    }


def test_get_returns_current_version_when_no_version_given(
    emulator: Emulator, make_client: Callable[..., Any]
) -> None:
    secret = make_client(emulator).get_secret("legacy-key")
    assert secret.value == "legacy-v2-value"
    assert secret.properties.version != LEGACY_V1
    assert secret.id == f"{emulator.vault_url('demo')}/secrets/legacy-key/{secret.properties.version}"


def test_get_returns_that_version_when_version_given(
    emulator: Emulator, make_client: Callable[..., Any]
) -> None:
    secret = make_client(emulator).get_secret("legacy-key", LEGACY_V1)
    assert (secret.value, secret.properties.version) == ("legacy-v1-value", LEGACY_V1)


def test_names_are_case_insensitive_when_getting(emulator: Emulator, make_client: Callable[..., Any]) -> None:
    secret = make_client(emulator).get_secret("DB-Password")
    assert (secret.name, secret.value) == ("db-password", "hunter2-demo-pw")


def test_demo_values_arrive_byte_for_byte(emulator: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client(emulator)
    creds = json.loads(client.get_secret("database-credentials").value)
    assert creds["password"] == 'p@ss w0rd$#"q'
    assert (
        client.get_secret("tls-key").value
        == "-----BEGIN DEMO KEY-----\nMIIBdemo...\n-----END DEMO KEY-----\n"
    )


def test_list_follows_next_link_when_more_than_one_page(
    emulator_factory: Callable[..., Emulator], make_client: Callable[..., Any]
) -> None:
    emu = emulator_factory(_world({f"s{i:03d}": f"value-{i}" for i in range(60)}))
    client = make_client(emu, "vault1")
    client.get_secret("s000")  # the challenge and the token, out of the way
    emu.reset_stats()
    names = [p.name for p in client.list_properties_of_secrets()]
    assert names == [f"s{i:03d}" for i in range(60)]
    lists = [r for r in emu.requests() if r.path == "/secrets"]
    assert len(lists) == 3  # 25 + 25 + 10


def test_list_honours_max_results_when_given(
    emulator_factory: Callable[..., Emulator], make_client: Callable[..., Any]
) -> None:
    emu = emulator_factory(_world({f"s{i:02d}": "v" for i in range(12)}))
    client = make_client(emu, "vault1")
    pages = list(client.list_properties_of_secrets(max_page_size=5).by_page())
    assert [len(list(p)) for p in pages] == [5, 5, 2]


def test_list_versions_returns_every_version(emulator: Emulator, make_client: Callable[..., Any]) -> None:
    versions = list(make_client(emulator).list_properties_of_secret_versions("legacy-key"))
    assert len(versions) == 2
    assert LEGACY_V1 in {v.version for v in versions}
    assert all(v.name == "legacy-key" for v in versions)


def test_attributes_round_trip_when_seeded(
    emulator_factory: Callable[..., Emulator], make_client: Callable[..., Any]
) -> None:
    exp = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    nbf = dt.datetime(2020, 6, 1, tzinfo=dt.timezone.utc)
    created = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    spec = {
        "value": "v",
        "content_type": "application/json",
        "tags": {"team": "payments", "env": "prod"},
        "exp": exp.isoformat(),
        "nbf": int(nbf.timestamp()),
        "created": created.isoformat(),
        "version": "0123456789abcdef0123456789abcdef",
    }
    emu = emulator_factory(_world({"full": spec}))
    props = make_client(emu, "vault1").get_secret("full").properties
    assert props.content_type == "application/json"
    assert props.tags == {"team": "payments", "env": "prod"}
    assert (props.expires_on, props.not_before, props.created_on) == (exp, nbf, created)
    assert props.enabled is True
    assert props.version == "0123456789abcdef0123456789abcdef"
    assert props.recoverable_days == 90


def test_expired_secret_is_still_returned_when_enabled(
    emulator_factory: Callable[..., Emulator], make_client: Callable[..., Any]
) -> None:
    emu = emulator_factory(_world({"old": {"value": "still-here", "exp": "2001-01-01T00:00:00Z"}}))
    assert make_client(emu, "vault1").get_secret("old").value == "still-here"


def test_client_env_is_all_a_client_needs(emulator: Emulator, azure_env: dict[str, str]) -> None:
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient

    # No authority= and no connection_verify=: AZURE_AUTHORITY_HOST and REQUESTS_CA_BUNDLE do it.
    credential = ClientSecretCredential(TENANT, CLIENT_ID, CLIENT_SECRET, disable_instance_discovery=True)
    client = SecretClient(emulator.vault_url("demo"), credential)
    assert client.get_secret("openai-api-key").value == "sk-demo-4f9a1c2e7b"
    assert set(azure_env) == {"AZURE_AUTHORITY_HOST", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}


# --- fidelity with real Key Vault traffic (issue 9; see docs/AZURE-WIRE.md "Key Vault list behaviour") ---


def _versioned_world(versions: list[str]) -> dict[str, Any]:
    """One secret whose versions are seeded oldest first with the given ids, a minute apart."""
    return _world({"rotating": [{"value": f"value-{v[:4]}", "version": v} for v in versions]})


def test_list_versions_is_sorted_by_version_id_not_by_age(
    emulator_factory: Callable[..., Emulator], make_client: Callable[..., Any]
) -> None:
    ids = ["f" * 32, "0" * 32, "9" * 32, "a" * 32]  # oldest first, not in id order
    emu = emulator_factory(_versioned_world(ids))
    listed = [v.version for v in make_client(emu, "vault1").list_properties_of_secret_versions("rotating")]
    assert listed == sorted(ids)


def test_list_versions_pages_25_at_most_in_version_id_order(
    emulator_factory: Callable[..., Emulator], make_client: Callable[..., Any]
) -> None:
    ids = [f"{(i * 7919) % 60:02d}".ljust(32, "c") for i in range(60)]
    emu = emulator_factory(_versioned_world(ids))
    pages = [
        [v.version for v in page]
        for page in make_client(emu, "vault1").list_properties_of_secret_versions("rotating").by_page()
    ]
    assert [len(p) for p in pages] == [25, 25, 10]
    assert [v for page in pages for v in page] == sorted(ids)


def test_list_versions_of_an_unknown_secret_is_an_empty_list(emulator: Emulator) -> None:
    response = _authorized_get(emulator, "/secrets/no-such-secret/versions?api-version=2026-04-01")
    assert response.status_code == 200
    assert response.json() == {"value": [], "nextLink": None}


@pytest.mark.parametrize("query", ["?api-version=2099-01-01", "?api-version=7.7-preview", ""])
def test_unknown_or_missing_api_version_is_bad_parameter(emulator: Emulator, query: str) -> None:
    response = _authorized_get(emulator, f"/secrets/db-password/{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadParameter"
    if query:
        given = query.removeprefix("?api-version=")
        assert error["message"].startswith(f"The specified version ({given}) is not recognized.")
        assert "latest supported version (2026-04-01)" in error["message"]


@pytest.mark.parametrize("version", ["2026-04-01", "2025-07-01", "7.6", "7.0", "2016-10-01"])
def test_known_api_versions_are_served(emulator: Emulator, version: str) -> None:
    assert _authorized_get(emulator, f"/secrets/db-password/?api-version={version}").status_code == 200


def test_client_request_id_is_echoed(emulator: Emulator) -> None:
    request_id = "5f0c1d2e-aaaa-4bbb-8ccc-0123456789ab"
    response = _authorized_get(
        emulator, "/secrets/db-password/?api-version=2026-04-01", {"x-ms-client-request-id": request_id}
    )
    assert response.headers["x-ms-client-request-id"] == request_id
    unauthenticated = requests.get(
        f"{emulator.vault_url('demo')}/secrets/db-password/?api-version=2026-04-01",
        headers={"x-ms-client-request-id": request_id},
        verify=str(emulator.ca_bundle),
        timeout=10,
    )
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["x-ms-client-request-id"] == request_id


def test_sdk_sees_its_own_client_request_id_echoed(
    emulator: Emulator, make_client: Callable[..., Any]
) -> None:
    seen: list[tuple[str | None, str | None]] = []

    def record(response: Any) -> None:
        http = response.http_response
        seen.append(
            (http.request.headers.get("x-ms-client-request-id"), http.headers.get("x-ms-client-request-id"))
        )

    make_client(emulator).get_secret("db-password", raw_response_hook=record)
    assert seen and all(sent and sent == echoed for sent, echoed in seen)


def _authorized_get(emu: Emulator, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        TENANT,
        CLIENT_ID,
        CLIENT_SECRET,
        authority=emu.authority_host,
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_bundle),
    )
    token = credential.get_token(f"https://vault.localhost:{emu.port}/.default").token
    return requests.get(
        f"{emu.vault_url('demo')}{path}",
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        verify=str(emu.ca_bundle),
        timeout=10,
    )

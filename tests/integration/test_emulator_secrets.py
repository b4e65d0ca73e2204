"""Get, get by version, list with paging, list versions, attributes: the real SDK over TLS."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

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

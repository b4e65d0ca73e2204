"""The admin API, in Python and over HTTPS: rotation, enable/disable, delete, faults, stats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from baker.emulator import Emulator

pytestmark = pytest.mark.emulator


def _admin(emu: Emulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, f"{emu.admin_url}{path}", json=body, verify=str(emu.ca_bundle), timeout=10
    )


def test_get_sees_new_version_when_rotated_mid_run(
    emulator: Emulator, make_client: Callable[..., Any]
) -> None:
    client = make_client(emulator)
    before = client.get_secret("db-password")
    version = emulator.set_secret("demo", "db-password", "rotated-pw", content_type="text/plain")
    after = client.get_secret("db-password")
    assert (after.value, after.properties.version, after.properties.content_type) == (
        "rotated-pw",
        version,
        "text/plain",
    )
    assert before.properties.version != version
    assert client.get_secret("db-password", before.properties.version).value == "hunter2-demo-pw"


def test_rotation_over_https_admin_endpoint(emulator: Emulator, make_client: Callable[..., Any]) -> None:
    response = _admin(
        emulator, "POST", "/vaults/demo/secrets/db-password", {"value": "via-https", "tags": {"k": "v"}}
    )
    assert response.status_code == 200
    secret = make_client(emulator).get_secret("db-password")
    assert (secret.value, secret.properties.version, secret.properties.tags) == (
        "via-https",
        response.json()["version"],
        {"k": "v"},
    )


def test_disable_and_delete_over_https_admin_endpoint(
    emulator: Emulator, make_client: Callable[..., Any]
) -> None:
    client = make_client(emulator)
    assert _admin(emulator, "PATCH", "/vaults/demo/secrets/tls-key", {"enabled": False}).status_code == 200
    with pytest.raises(HttpResponseError) as caught:
        client.get_secret("tls-key")
    assert caught.value.status_code == 403
    assert _admin(emulator, "DELETE", "/vaults/demo/secrets/tls-key").status_code == 200
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("tls-key")


def test_old_version_can_be_disabled_alone(emulator: Emulator, make_client: Callable[..., Any]) -> None:
    from baker.emulator.demo import LEGACY_V1

    emulator.set_enabled("demo", "legacy-key", False, version=LEGACY_V1)
    client = make_client(emulator)
    assert client.get_secret("legacy-key").value == "legacy-v2-value"
    with pytest.raises(HttpResponseError):
        client.get_secret("legacy-key", LEGACY_V1)


def test_faults_and_stats_over_https_admin_endpoint(emulator: Emulator) -> None:
    response = _admin(emulator, "PATCH", "/faults", {"throttle_next": 1, "retry_after": 0})
    assert response.json()["throttle_next"] == 1
    assert emulator.faults.throttle_next == 1
    throttled = requests.get(
        f"{emulator.vault_url('demo')}/secrets/x/?api-version=2026-04-01",
        verify=str(emulator.ca_bundle),
        timeout=10,
    )
    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers  # retry_after 0: Key Vault does not always send one
    stats = _admin(emulator, "GET", "/requests").json()
    assert [r["status"] for r in stats["requests"]] == [200, 429]
    assert _admin(emulator, "POST", "/reset-stats").status_code == 200
    assert [r.path for r in emulator.requests()] == ["/_admin/reset-stats"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("PATCH", "/faults", {"nonsense": 1}, 400),
        ("PATCH", "/faults", {"latency": "slow"}, 400),
        ("POST", "/vaults/nope/secrets/x", {"value": "v"}, 404),
        ("POST", "/vaults/demo/secrets/bad_name", {"value": "v"}, 400),
        ("PATCH", "/vaults/demo/secrets/missing", {"enabled": True}, 404),
        ("GET", "/nowhere", None, 404),
    ],
)
def test_admin_endpoint_refuses_bad_requests(
    emulator: Emulator, method: str, path: str, body: Any, status: int
) -> None:
    response = _admin(emulator, method, path, body)
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_requests_are_recorded_with_method_host_path_status(
    emulator: Emulator, make_client: Callable[..., Any]
) -> None:
    make_client(emulator).get_secret("db-password")
    records = [(r.method, r.host, r.path, r.status) for r in emulator.requests()]
    assert records[0] == ("GET", "demo.vault.localhost", "/secrets/db-password/", 401)
    assert records[-1] == ("GET", "demo.vault.localhost", "/secrets/db-password/", 200)
    emulator.reset_stats()
    assert emulator.requests() == []

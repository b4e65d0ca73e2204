"""Fault injection as the SDK meets it: 429 + Retry-After, per-vault rate limits, 5xx, dropped
connections, latency with concurrent requests."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceResponseError

from baker.emulator import Emulator

pytestmark = pytest.mark.emulator


@pytest.fixture
def client(emulator: Emulator, make_client: Callable[..., Any]) -> Any:
    client = make_client(emulator)
    client.get_secret("db-password")  # challenge + token done: later counts see only the GETs under test
    emulator.reset_stats()
    return client


def _gets(emu: Emulator) -> list[int]:
    return [r.status for r in emu.requests() if r.method == "GET" and r.host == "demo.vault.localhost"]


def test_sdk_retries_after_retry_after_when_throttled_once(emulator: Emulator, client: Any) -> None:
    emulator.faults.throttle_next = 1
    emulator.faults.retry_after = 1
    started = time.monotonic()
    assert client.get_secret("db-password").value == "hunter2-demo-pw"
    assert time.monotonic() - started >= 0.9  # Retry-After honoured (loose on purpose)
    assert _gets(emulator) == [429, 200]


def test_throttled_answer_has_key_vault_shape(emulator: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client(emulator, retry_total=0)
    client.get_secret("db-password")
    emulator.faults.throttle_next = 1
    with pytest.raises(HttpResponseError) as caught:
        client.get_secret("db-password")
    assert (caught.value.status_code, caught.value.error.code) == (429, "Throttled")
    assert caught.value.response.headers["Retry-After"] == "1"
    assert "VaultRequestTypeLimitReached" in caught.value.message


def test_requests_beyond_the_rate_are_throttled(emulator: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client(emulator, retry_total=0)
    client.get_secret("db-password")
    emulator.faults.throttle_rps = 1
    outcomes = []
    for _ in range(4):
        try:
            client.get_secret("db-password")
            outcomes.append(200)
        except HttpResponseError as exc:
            outcomes.append(exc.status_code)
    assert 429 in outcomes


def test_sdk_retries_once_when_one_5xx_injected(emulator: Emulator, client: Any) -> None:
    emulator.faults.error_next = 1
    assert client.get_secret("db-password").value == "hunter2-demo-pw"
    assert _gets(emulator) == [500, 200]


def test_error_rate_fails_a_share_of_requests(emulator: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client(emulator, retry_total=0)
    client.get_secret("db-password")
    emulator.faults.error_rate = 0.5
    statuses = set()
    for _ in range(40):
        try:
            client.get_secret("db-password")
            statuses.add(200)
        except HttpResponseError as exc:
            statuses.add(exc.status_code)
    assert statuses == {200, 500}


def test_sdk_retries_when_connection_dropped_once(emulator: Emulator, client: Any) -> None:
    emulator.faults.drop_next = 1
    assert client.get_secret("db-password").value == "hunter2-demo-pw"
    assert _gets(emulator) == [0, 200]


def test_dropped_connection_surfaces_as_service_response_error(
    emulator: Emulator, make_client: Callable[..., Any]
) -> None:
    client = make_client(emulator, retry_total=0)
    client.get_secret("db-password")
    emulator.faults.drop_rate = 1.0
    with pytest.raises(ServiceResponseError):
        client.get_secret("db-password")


def test_latency_lets_concurrent_requests_overlap(emulator: Emulator, client: Any) -> None:
    emulator.faults.latency = 0.3
    names = ["db-password", "openai-api-key", "legacy-key", "tls-key"] * 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        values = list(pool.map(lambda n: client.get_secret(n).value, names))
    assert len(values) == 8
    assert emulator.peak_in_flight > 1

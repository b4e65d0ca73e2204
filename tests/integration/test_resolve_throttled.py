"""Throttling and transient failures: retried within bounds, then reported as such."""

from __future__ import annotations

import pytest

from baker.diagnose import Diagnosis
from baker.errors import ResolutionFailed
from baker.model import Manifest
from baker.providers.azure import AzureKeyVaultProvider
from baker.resolver import resolve
from tests.support.resolve_world import (
    World,
    env_block,
    world_fixture,  # noqa: F401 - the `world` fixture
)

pytestmark = pytest.mark.emulator


def manifest(world: World, count: int = 3) -> Manifest:
    return world.manifest(
        world.credential("main", "main", default=True),
        env_block({f"BULK_{i:02d}": f"{{secret: bulk-{i:02d}}}" for i in range(count)}),
    )


def test_throttled_requests_are_retried_after_retry_after_when_the_vault_answers_429(world: World) -> None:
    world.emu.faults.retry_after = 1
    world.emu.faults.throttle_next = 3
    resolved = resolve(manifest(world), max_workers=2)
    assert resolved.build_args()["BULK_02"] == "bulk-value-02-abcdef"
    statuses = [status for method, _, status in world.vault_requests("main") if method == "GET"]
    assert statuses.count(429) == 3
    assert statuses.count(200) == 3


def test_a_rate_limited_vault_is_read_in_full_when_retries_suffice(world: World) -> None:
    world.emu.faults.throttle_rps = 5
    world.emu.faults.retry_after = 1
    resolved = resolve(manifest(world, count=12), max_workers=8)
    assert len(resolved.entries) == 12
    assert any(status == 429 for _, _, status in world.vault_requests("main"))


def test_transient_errors_and_dropped_connections_are_retried_when_they_pass(world: World) -> None:
    world.emu.faults.error_next = 2
    world.emu.faults.drop_next = 1
    resolved = resolve(manifest(world), max_workers=1)
    assert resolved.build_args()["BULK_00"] == "bulk-value-00-abcdef"
    statuses = [status for _, _, status in world.vault_requests("main")]
    assert statuses.count(500) == 2 and statuses.count(0) == 1


def test_throttled_is_diagnosed_when_the_vault_keeps_answering_429_beyond_the_retries(world: World) -> None:
    m = manifest(world, count=2)
    world.emu.faults.retry_after = 1
    world.emu.faults.throttle_next = 1000
    provider = AzureKeyVaultProvider(
        m.credentials["main"], max_workers=2, retry_total=2, retry_after_max=0.05
    )
    try:
        with pytest.raises(ResolutionFailed) as caught:
            resolve(m, providers={"main": provider})
    finally:
        provider.close()
    assert {f.env: f.error.diagnosis for f in caught.value.failures} == {
        "BULK_00": Diagnosis.THROTTLED,
        "BULK_01": Diagnosis.THROTTLED,
    }
    assert "429" in caught.value.failures[0].error.evidence
    # 3 tries (1 + 2 retries) per secret, nothing more.
    assert len(world.vault_requests("main")) == 6

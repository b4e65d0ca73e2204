"""Canaries for the bake itself: values too short for the Redactor to mask (it only warns about them)
must still never be printed, because nothing that carries build args is ever logged, at any
verbosity: not baker's logs, not docker-py's, not urllib3's request lines.

Real parts only: the emulator over TLS with the unmodified SDK, and a real Docker engine.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_canaries import APP, CLIENT_SECRET, TENANT, VERBOSITIES, _run
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest

pytestmark = pytest.mark.docker

SHORT = "ab1"  # under the Redactor's minimum: warned about, never masked
LONGER = "CANARY-long-9d8e7f"


@pytest.fixture
def short_emulator(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={
            "short": {
                "grants": [{"app": APP, "scope": "vault"}],
                "secrets": {"short-one": SHORT, "long-one": LONGER},
            }
        },
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    return emu


def _manifest(path: Path, emu: Emulator, base: str, tag: str) -> Path:
    credential = azure_credential(emu.vault_url("short"), TENANT, APP)
    env = {"SHORT_PIN": {"secret": "short-one"}, "LONG_ONE": {"secret": "long-one"}}
    return write_manifest(path, base=base, tag=tag, credentials={"canary": credential}, env=env)


def _forms(value: str) -> list[str]:
    """The value as it would sit in a build request: raw, JSON-quoted, and URL-encoded JSON."""
    return [f'"{value}"', f"%22{value}%22", f"={value}", f": {value}"]


@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_build_never_prints_a_value_too_short_to_mask_at_any_verbosity(
    verbosity: list[str],
    short_emulator: Emulator,
    busybox_base: str,
    docker_client: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    tag = f"baker-test/canary-short:{uuid.uuid4().hex[:12]}"
    manifest = str(_manifest(tmp_path / "baker.yaml", short_emulator, busybox_base, tag))
    try:
        code, text = _run(capfd, ["build", "-f", manifest, *verbosity])
        env = docker_client.api.inspect_image(tag)["Config"]["Env"]
    finally:
        with contextlib.suppress(Exception):  # best-effort cleanup of a test image
            docker_client.images.remove(tag, force=True)
    assert code == 0, text
    assert f"SHORT_PIN={SHORT}" in env  # the value was baked, so it did travel in the request
    assert "too short to mask" in text  # the Redactor warned: it cannot hide this one
    assert [form for form in _forms(SHORT) if form in text] == []
    assert "buildargs" not in text
    assert LONGER not in text

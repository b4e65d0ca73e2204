"""Canaries on the `build --in-registry` path: the canary values (tests/integration/test_canaries.py)
baked at every verbosity, successfully and failing, with `DOCKER_HOST` pointing at nothing.  No
form of a value in stdout or stderr, in any file left in the working or temp area, nor anywhere in
the registry's storage (every blob, manifest, upload and log) except the `Env` of the configs baker
wrote, which must hold them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_canaries import VALUES, VERBOSITIES, _leaks, _manifest, _run, canary_emulator
from tests.support import oci_bases
from tests.support.oci_bases import Registry, StartRegistry, push_base

__all__ = ["canary_emulator"]  # the fixture, imported to be used here

pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture


def _storage_leaks(registry: Registry) -> tuple[dict[str, list[str]], int]:
    """Leaks anywhere in the registry's files, a config's Env aside; and how many configs held
    the canaries in their Env (the bake really wrote them)."""
    leaks: dict[str, list[str]] = {}
    holding = 0
    for path in registry.root.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        try:
            document: Any = json.loads(raw)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("config"), dict):
            env = document["config"].pop("Env", None) or []
            if any(VALUES["plain"] in item for item in env):
                holding += 1
            text = json.dumps(document) + json.dumps(document, ensure_ascii=False)
        found = _leaks(text)
        if found:
            leaks[str(path.relative_to(registry.root))] = found
    return leaks, holding


@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_baking_in_the_registry_leaves_values_only_in_the_configs_env(
    verbosity: list[str],
    canary_emulator: Emulator,
    registries: StartRegistry,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    tmp_area = tmp_path / "tmp"
    tmp_area.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_area))
    first, second = registries(), registries()
    base = push_base(first.api, "canary/base")
    tag, mirror = f"{first.host}/canary/app:baked", f"{second.host}/canary/app:baked"
    work = tmp_path / "work"
    work.mkdir()
    manifest = str(_manifest(work / "baker.yaml", canary_emulator, base.ref, tag))
    broken = str(
        _manifest(
            work / "broken.yaml",
            canary_emulator,
            base.ref,
            tag,
            extra="  MISSING: {secret: canary-missing}\n",
        )
    )
    runs = {
        "bake": ["build", "--in-registry", "-f", manifest, "--tag", tag, "--tag", mirror],
        "check": ["check", "-f", manifest, "--image", tag],
        "if-stale": ["build", "--in-registry", "--if-stale", "-f", manifest, "--tag", tag],
        "failing bake": ["build", "--in-registry", "-f", broken, "--tag", tag, "--tag", mirror],
    }
    codes: dict[str, int] = {}
    leaks: dict[str, list[str]] = {}
    for name, args in runs.items():
        codes[name], text = _run(capfd, [*args, *verbosity])
        if _leaks(text):
            leaks[name] = _leaks(text)
    assert codes == {"bake": 0, "check": 0, "if-stale": 0, "failing bake": 1}
    assert leaks == {}
    assert list(tmp_area.iterdir()) == []
    assert sorted(p.name for p in work.iterdir()) == ["baker.yaml", "broken.yaml"]
    for registry in (first, second):
        found, holding = _storage_leaks(registry)
        assert found == {}
        assert holding == 2  # one config per platform, values in its Env

"""Canaries on the fleet paths: `check -f DIR` (whose GETs of the current and the baked versions answer
with values), `build --if-stale -f DIR --revoke-superseded`, and `find --secret`, at every verbosity,
after a rotation to new canary values and with a baked version disabled.  Nothing may print any form
of a value or of the client secret, and no `Secret` may hold a value a check's GET returned."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.secret import Secret
from tests.integration.test_canaries import (
    NEEDLES,
    SECRETS,
    VERBOSITIES,
    _forms,
    _leaks,
    _manifest,
    _run,
    canary_emulator,
)
from tests.support.fixtures_docker import ImageNames
from tests.support.fleet_world import push_base
from tests.support.registry import local_registry

__all__ = ["canary_emulator", "local_registry"]  # the fixtures

pytestmark = [pytest.mark.docker, pytest.mark.emulator]

ROTATED = {
    name: f"CANARY-rotated-{name}-e5f6a7b8"
    for name in ("canary-plain", "canary-pem", "canary-unicode", "canary-awkward")
}
ROTATED["canary-json"] = json.dumps({"pw": "CANARY-rotated-json-field-c9d0"})
ROTATED_NEEDLES = set().union(
    *(_forms(v) for v in ROTATED.values()), _forms("CANARY-rotated-json-field-c9d0")
)


def _all_leaks(text: str) -> list[str]:
    return sorted(set(_leaks(text)) | {n for n in ROTATED_NEEDLES if n in text})


def test_fleet_commands_never_print_a_value_a_check_read_at_any_verbosity(
    canary_emulator: Emulator,
    local_registry: str,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()
    emu = canary_emulator
    base = push_base(docker_client, busybox_base, local_registry, image_names)
    root = tmp_path / "services"
    tags = {}
    for name in ("one", "two"):
        (root / name).mkdir(parents=True)
        tags[name] = f"{local_registry}/canary-fleet-{tmp_path.name[-8:].lower()}-{name}:baked"
        _manifest(root / name / "baker.yaml", emu, base, tags[name])
    code, output = _run(capfd, ["build", "--in-registry", "-f", str(root)])
    assert code == 0, output
    assert _all_leaks(output) == []

    _, checked = _run(capfd, ["check", "-f", str(root / "one" / "baker.yaml"), "--json"])
    baked = {
        e["secret"]: e["baked_version"]
        for e in json.loads(checked.splitlines()[0])["entries"]
        if "baked_version" in e
    }
    for name, value in ROTATED.items():
        emu.set_secret("canary", name, value)
    emu.set_enabled(
        "canary", "canary-plain", False, version=baked["canary-plain"]
    )  # a disabled baked version

    code, output = _run(capfd, ["check", "-f", str(root), "--debug"])
    assert code == 3
    assert "the baked version is disabled" in output
    rotated_values = set(ROTATED.values()) | {v for v in SECRETS.values() if isinstance(v, str)}
    held = [o for o in gc.get_objects() if isinstance(o, Secret) and o.reveal() in rotated_values]
    assert held == [], "a check kept a value it read as a Secret"

    repos = [tag.rpartition(":")[0] for tag in tags.values()]
    outputs = [output]
    for verbosity in VERBOSITIES:
        for args in (
            ["check", "-f", str(root)],
            ["build", "--in-registry", "--if-stale", "--revoke-superseded", "-f", str(root)],
            ["find", "--secret", f"canary_plain@{baked['canary-plain']}", *repos],
            ["find", "--secret", "canary-json#pw", *repos],
        ):
            code, output = _run(capfd, [*args, *verbosity])
            assert code in (0, 3), output
            outputs.append(output)
    leaks = {i: _all_leaks(text) for i, text in enumerate(outputs) if _all_leaks(text)}
    assert leaks == {}
    assert NEEDLES and ROTATED_NEEDLES

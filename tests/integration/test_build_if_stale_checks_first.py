"""`build --if-stale` asks the tags' registries before its staleness check reads any secret (rt5-2):
the emulator over TLS (its request log counts the secret reads), a real Docker engine, Debian's
docker-registry on 127.0.0.1, and a port where nobody listens standing for a registry that does not
answer.  The rule is the pipelines' "no engine or registry, no secret fetched": the staleness check
GETs every secret (each answer carries its value, dropped unread), so it comes after the checks a
bake makes of its tags (`image.bake.check_tags`, `image.inregistry.check_targets`), on one manifest
and on a fleet.  A re-bake that is due still reads each secret as before: once for the check, once
for the bake."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory
from tests.support.fleet_world import Fleet, fleet_emulator, make_fleet, push_base
from tests.support.registry import local_registry

__all__ = ["local_registry"]  # the fixture

pytestmark = [pytest.mark.docker, pytest.mark.emulator]

ROADS = {"engine": ("--push",), "registry": ("--in-registry",)}


@pytest.fixture
def emu(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    return fleet_emulator(emulator_factory, monkeypatch)


@pytest.fixture
def fleet(
    emu: Emulator,
    local_registry: str,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> Fleet:
    """Three manifests baked in the registry (tests/support/fleet_world.py); the engine's local
    copies of their tags (an engine re-bake makes them) are removed at the end."""
    base = push_base(docker_client, busybox_base, local_registry, image_names)
    built = make_fleet(emu, local_registry, base, tmp_path / "services")
    image_names.names.extend(built.tags.values())
    code, document = built.json(capfd, "build", "--in-registry", "-f", str(built.root))
    assert code == 0, document
    return built


def _nobody() -> str:
    """A loopback address where nothing listens (the port is released before use)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def _secret_reads(emu: Emulator) -> list[str]:
    """The paths of the secret GETs the vaults answered (each answer carries the value)."""
    return [
        r.path.rstrip("/")
        for r in emu.requests()
        if ".vault." in r.host and r.path.startswith("/secrets/") and r.status != 401
    ]


def _with_a_second_tag(fleet: Fleet, service: str, tag: str) -> None:
    """`service`'s manifest, its image.tag a list: its own tag, then `tag`."""
    path = fleet.file(service)
    own = json.dumps(fleet.tags[service])
    text = path.read_text(encoding="utf-8")
    assert f'"tag": {own}' in text
    path.write_text(text.replace(f'"tag": {own}', f'"tag": [{own}, {json.dumps(tag)}]'), encoding="utf-8")


@pytest.mark.parametrize("road", ["engine", "registry"])
def test_a_due_rebake_whose_second_tag_s_registry_does_not_answer_fetches_no_secret(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str], road: str
) -> None:
    """Written first and seen failing on main (3 secret GETs on either road: the staleness check's).  The
    refusal is today's (exit 1, the same error), only earlier."""
    nobody = _nobody()
    emu.set_secret("fleet", "fleet-only-a", "fleet-only-a-value-rotated-71bd")  # a re-bake is due
    emu.reset_stats()
    tags = ("--tag", fleet.tags["a"], "--tag", f"{nobody}/fleet/a:baked")
    code, document = fleet.json(capfd, "build", "--if-stale", *ROADS[road], *tags, "-f", str(fleet.file("a")))
    assert code == 1, document
    assert nobody in document["message"], document
    if road == "engine":  # `image.bake.check_tags`: each registry of a push to two must take it
        assert document["error"] == "EngineError"
        assert document["message"].startswith(f"cannot push to {nobody}: "), document
    assert _secret_reads(emu) == []


@pytest.mark.parametrize("road", ["engine", "registry"])
def test_a_current_image_whose_second_tag_s_registry_does_not_answer_is_refused_without_a_secret_read(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str], road: str
) -> None:
    """The order is the rule: the tags are checked before the staleness check even when nothing is
    due, so a tag that could not be pushed to fails the run (exit 1; before rt5-2's fix, exit 0
    "current" after reading every secret)."""
    nobody = _nobody()
    emu.reset_stats()
    tags = ("--tag", fleet.tags["a"], "--tag", f"{nobody}/fleet/a:baked")
    code, document = fleet.json(capfd, "build", "--if-stale", *ROADS[road], *tags, "-f", str(fleet.file("a")))
    assert code == 1, document
    assert nobody in document["message"] and "skipped" not in document, document
    assert _secret_reads(emu) == []


@pytest.mark.parametrize("road", ["engine", "registry"])
def test_a_fleet_checks_each_manifest_s_tags_before_its_staleness_check(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str], road: str
) -> None:
    """`a` has a second tag where nobody answers: it is refused before the fleet's check (none of
    its secrets is read: ONLY_A is its own), the others are checked and baked as before."""
    nobody = _nobody()
    _with_a_second_tag(fleet, "a", f"{nobody}/fleet/a:baked")
    old = {name: fleet.digest(name) for name in ("b", "c")}
    emu.set_secret("fleet", "fleet-shared", "fleet-shared-value-rotated-0c3e")  # a and b are stale
    emu.reset_stats()
    code, document = fleet.json(capfd, "build", "--if-stale", *ROADS[road], "-f", str(fleet.root))
    assert code == 1, document
    outcome = {Path(m["file"]).parent.name: m for m in document["manifests"]}
    assert list(outcome) == ["a", "b", "c"]
    assert outcome["a"]["skipped"] is False and nobody in outcome["a"]["error"]["message"]
    assert outcome["b"]["skipped"] is False and "error" not in outcome["b"], outcome["b"]
    assert outcome["c"]["skipped"] is True
    assert document["built"] == 1
    assert fleet.digest("b") != old["b"] and fleet.digest("c") == old["c"]
    reads = _secret_reads(emu)
    assert reads, "the others were checked and b re-baked"
    assert not any("only-a" in path or "only_a" in path for path in reads), reads

    # Again, as a person reads it: b is current now, a is refused again before its check.
    code, out, err = fleet.run(capfd, "build", "--if-stale", *ROADS[road], "-f", str(fleet.root))
    assert code == 1
    printed = out + err
    assert f"{fleet.file('a')}: {fleet.tags['a']} not checked: its tags were refused" in printed
    assert nobody in printed
    assert "3 manifests: 0 baked, 1 failed, 2 skipped" in printed


@pytest.mark.parametrize("road", ["engine", "registry"])
def test_a_due_rebake_still_reads_each_secret_once_for_the_check_and_once_for_the_bake(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str], road: str
) -> None:
    """As before the early checks (this passes on main too): the check reads each secret's current
    version and the rotated one's baked version; the bake reads each current value once."""
    old = fleet.digest("a")
    emu.set_secret("fleet", "fleet-only-a", "fleet-only-a-value-rotated-93fa")
    emu.reset_stats()
    code, document = fleet.json(capfd, "build", "--if-stale", *ROADS[road], "-f", str(fleet.file("a")))
    assert code == 0, document
    assert document.get("skipped") is not True
    assert fleet.digest("a") != old
    reads = _secret_reads(emu)
    current = Counter(path for path in reads if path.count("/") == 2)
    versioned = [path for path in reads if path.count("/") == 3]
    assert sorted(current) == ["/secrets/fleet-only-a", "/secrets/fleet-shared"], reads
    assert set(current.values()) == {2}, reads  # once for the check, once for the bake
    assert len(versioned) == 1 and versioned[0].startswith("/secrets/fleet-only-a/"), reads

"""Rotation across a fleet, end to end: the emulator over TLS with the unmodified SDK, a real Docker
engine, and Debian's docker-registry on 127.0.0.1 with deletes enabled (and one without).

`check -f DIR` over three manifests sharing secrets; a rotation makes exactly the images holding that
secret stale; one sign-in per identity and one read per distinct secret (the emulator's request log);
a 3,000-version secret checked in at most two requests; `build --if-stale -f ...` re-bakes exactly
the stale ones (in the registry and with the engine); `find --secret` names the tags and digests;
`--revoke-superseded` deletes the old digest and keeps one another tag still names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory
from tests.support.fleet_world import (
    VALUES,
    Fleet,
    fleet_emulator,
    make_fleet,
    manifest_digest,
    push_base,
    put_tag,
)
from tests.support.registry import local_registry, nodelete_registry

__all__ = ["local_registry", "nodelete_registry"]  # the fixtures

pytestmark = [pytest.mark.docker, pytest.mark.emulator]


@pytest.fixture
def emu(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    return fleet_emulator(emulator_factory, monkeypatch)


def _baked_fleet(
    emu: Emulator,
    registry: str,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> Fleet:
    base = push_base(docker_client, busybox_base, registry, image_names)
    fleet = make_fleet(emu, registry, base, tmp_path / "services")
    code, document = fleet.json(capfd, "build", "--in-registry", "-f", str(fleet.root))
    assert code == 0, document
    assert document["built"] == 3
    return fleet


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
    return _baked_fleet(emu, local_registry, docker_client, busybox_base, image_names, tmp_path, capfd)


def _stale(document: dict[str, Any]) -> dict[str, bool]:
    return {Path(m["file"]).parent.name: m["stale"] for m in document["manifests"]}


def test_a_rotation_makes_exactly_the_images_holding_that_secret_stale_with_one_sign_in_per_identity(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()
    emu.reset_stats()
    code, document = fleet.json(capfd, "check", "-f", str(fleet.root))
    assert code == 0
    assert set(document) == {"stale", "manifests"} and document["stale"] is False
    assert _stale(document) == {"a": False, "b": False, "c": False}  # .git, node_modules, .venv skipped
    statuses = {e["env"]: e["status"] for m in document["manifests"] for e in m["entries"]}
    assert statuses == {
        "LOG_LEVEL": "literal",
        "SHARED": "current",
        "ONLY_A": "current",
        "ONLY_B": "current",
        "OPS": "current",
    }
    # Two identities (a's `prod` and b's `main` are one app): two sign-ins; each secret read once.
    assert fleet.token_requests() == 2
    reads = sorted(path for _, path, status in fleet.vault_reads() if status == 200)
    assert reads == sorted(f"/secrets/{name}" for name in VALUES)

    emu.set_secret("fleet", "fleet-only-b", "fleet-only-b-value-rotated-55aa")
    emu.reset_stats()
    code, document = fleet.json(
        capfd, "check", "-f", str(fleet.file("a")), "-f", str(fleet.file("b")), "-f", str(fleet.file("c"))
    )
    assert code == 3
    assert document["stale"] is True
    assert _stale(document) == {"a": False, "b": True, "c": True}
    rotated = [e for m in document["manifests"] for e in m["entries"] if e["status"] == "rotated"]
    assert {e["env"] for e in rotated} == {"ONLY_B"} and len(rotated) == 2
    # The rotated secret: its current version, then the baked version's attributes; the others once.
    only_b = [path for _, path, _ in fleet.vault_reads() if "fleet-only-b" in path]
    assert len(only_b) == 2 and only_b[0] != only_b[1]
    assert fleet.token_requests() == 2

    code, out, _ = fleet.run(capfd, "check", "-f", str(fleet.root))
    assert code == 3
    assert out.count("== ") == 3 and "3 manifests: 2 stale, 0 need a person, 1 up to date" in out


def test_a_single_manifest_keeps_todays_output_when_checked_alone(
    fleet: Fleet, capfd: pytest.CaptureFixture[str]
) -> None:
    code, document = fleet.json(capfd, "check", "-f", str(fleet.file("b")))
    assert code == 0
    assert set(document) == {"stale", "entries"}
    code, out, _ = fleet.run(capfd, "check", "-f", str(fleet.file("b")), "--image", fleet.tags["b"])
    assert code == 0 and out.startswith(f"image {fleet.tags['b']}") and "== " not in out


def test_a_disabled_baked_version_is_said_beside_the_rotation(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    _, before = fleet.json(capfd, "check", "-f", str(fleet.file("a")))
    baked = next(e["baked_version"] for e in before["entries"] if e["env"] == "SHARED")
    emu.set_secret("fleet", "fleet-shared", "fleet-shared-value-rotated-77bb")
    emu.set_enabled("fleet", "fleet-shared", False, version=baked)  # the leaked version, disabled
    code, document = fleet.json(capfd, "check", "-f", str(fleet.file("a")))
    assert code == 3
    entry = next(e for e in document["entries"] if e["env"] == "SHARED")
    assert entry["status"] == "rotated" and entry["baked_state"] == "disabled"
    assert "the baked version is disabled" in entry["detail"]


def test_a_secret_with_3000_versions_is_checked_in_at_most_two_requests(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    for i in range(3000):
        emu.set_secret("fleet", "fleet-only-a", f"history-{i}")
    emu.reset_stats()
    code, document = fleet.json(capfd, "check", "-f", str(fleet.file("a")))
    assert code == 3  # rotated 3,000 times since the bake
    assert next(e["status"] for e in document["entries"] if e["env"] == "ONLY_A") == "rotated"
    requests = [path for _, path, _ in fleet.vault_reads() if "fleet-only-a" in path]
    assert len(requests) == 2
    assert not any(path.endswith("/versions") for path in requests)


def test_build_if_stale_rebakes_exactly_the_stale_ones_in_the_registry(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    digests = {name: fleet.digest(name) for name in ("a", "b", "c")}
    emu.set_secret("fleet", "fleet-only-a", "fleet-only-a-value-rotated-66cc")
    code, document = fleet.json(capfd, "build", "--in-registry", "--if-stale", "-f", str(fleet.root))
    assert code == 0
    assert document["built"] == 1
    skipped = {Path(m["file"]).parent.name: m["skipped"] for m in document["manifests"]}
    assert skipped == {"a": False, "b": True, "c": True}
    assert fleet.digest("a") != digests["a"]
    assert (fleet.digest("b"), fleet.digest("c")) == (digests["b"], digests["c"])
    assert fleet.json(capfd, "check", "-f", str(fleet.root))[0] == 0


def test_build_if_stale_with_the_engine_rebakes_the_stale_one_and_revokes_its_old_digest(
    fleet: Fleet, emu: Emulator, image_names: ImageNames, capfd: pytest.CaptureFixture[str]
) -> None:
    image_names.names.extend(fleet.tags.values())  # the engine's local tags, removed at the end
    old = fleet.digest("c")
    emu.set_secret("ops", "fleet-ops", "fleet-ops-value-rotated-99dd")
    code, document = fleet.json(
        capfd, "build", "--push", "--if-stale", "--revoke-superseded", "-f", str(fleet.root)
    )
    assert code == 0, document
    baked = {Path(m["file"]).parent.name: m for m in document["manifests"]}
    assert [name for name, m in baked.items() if not m["skipped"]] == ["c"]
    repository = fleet.tags["c"].partition("/")[2].rpartition(":")[0]
    assert baked["c"]["revoked"] == [{"repository": f"{fleet.registry}/{repository}", "digest": old}]
    assert manifest_digest(fleet.registry, repository, str(old)) is None  # a GET by digest: 404
    assert fleet.digest("c") == baked["c"]["pushed"][0]["digest"]
    assert fleet.json(capfd, "check", "-f", str(fleet.root))[0] == 0


def test_revoke_keeps_a_digest_another_tag_still_names(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    repository = fleet.tags["a"].partition("/")[2].rpartition(":")[0]
    old = fleet.digest("a")
    put_tag(fleet.registry, repository, "baked", "release-1")
    emu.set_secret("fleet", "fleet-only-a", "fleet-only-a-value-rotated-11ee")
    code, document = fleet.json(
        capfd, "build", "--in-registry", "--revoke-superseded", "-f", str(fleet.file("a"))
    )
    assert code == 0
    assert document["revoked"] == []
    assert document["kept"] == [
        {"repository": f"{fleet.registry}/{repository}", "digest": old, "why": "still tagged release-1"}
    ]
    assert manifest_digest(fleet.registry, repository, str(old)) == old


def test_find_names_the_tags_and_digests_baked_from_a_secret_version(
    fleet: Fleet, emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    repos = [tag.rpartition(":")[0] for tag in fleet.tags.values()]
    _, checked = fleet.json(capfd, "check", "-f", str(fleet.root))
    leaked = next(
        e["baked_version"] for m in checked["manifests"] for e in m["entries"] if e["env"] == "ONLY_B"
    )
    code, document = fleet.json(capfd, "find", "--secret", f"fleet_only_b@{leaked.upper()}", *repos)
    assert code == 0
    found = {(m["repository"], m["tag"], m["digest"]) for m in document["matches"]}
    assert found == {
        (repos[1], "baked", fleet.digest("b")),
        (repos[2], "baked", fleet.digest("c")),
    }
    assert {tuple(m["env"]) for m in document["matches"]} == {("ONLY_B",)}
    assert document["scanned"] == 3

    # Re-baked with revocation: the leaked version lives nowhere any more.
    emu.set_secret("fleet", "fleet-only-b", "fleet-only-b-value-rotated-22ff")
    code, _ = fleet.json(
        capfd, "build", "--in-registry", "--if-stale", "--revoke-superseded", "-f", str(fleet.root)
    )
    assert code == 0
    code, document = fleet.json(capfd, "find", "--secret", f"fleet-only-b@{leaked}", *repos)
    assert (code, document["matches"]) == (0, [])
    code, out, _ = fleet.run(capfd, "find", "--secret", "fleet-only-b", *repos)
    assert code == 0 and "2 tags of 3 baked from fleet-only-b (any version)" in out


def test_find_names_a_registry_that_refuses_the_listing(
    fleet: Fleet, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = fleet.run(capfd, "find", "--secret", "fleet-shared", f"{fleet.registry}/no-such-repo")
    assert code == 1
    assert f"the registry {fleet.registry} has no repository no-such-repo" in err


def test_a_registry_without_deletes_gives_a_warning_and_the_bake_succeeds(
    emu: Emulator,
    nodelete_registry: str,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fleet = _baked_fleet(emu, nodelete_registry, docker_client, busybox_base, image_names, tmp_path, capfd)
    old = fleet.digest("b")
    emu.set_secret("fleet", "fleet-only-b", "fleet-only-b-value-rotated-33aa")
    code, out, err = fleet.run(
        capfd, "build", "--in-registry", "--revoke-superseded", "-f", str(fleet.file("b"))
    )
    assert code == 0
    assert f"warning: the registry {nodelete_registry} did not delete" in err
    assert "refuses deletes" in out
    repository = fleet.tags["b"].partition("/")[2].rpartition(":")[0]
    assert manifest_digest(nodelete_registry, repository, str(old)) == old

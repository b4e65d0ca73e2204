"""Red-team reproductions (round 3 follow-up, issue 16): `build --if-stale` trusts the base that
the tagged image's provenance label records, and nothing ties that record to `image.from`.

Whoever can put an image under the baked tag (push rights on the app's repository, or an image the
CI pulled under that name) writes the label: a scheduled `--if-stale` re-bake then bakes the Key
Vault values onto the image the label names and pushes it under the user's tag; on the registry
road the label's name also picks the registry baker reads from (a host the manifest never names).
A plain `build` (onto `image.from`) would have undone the swap.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.provenance import LABEL
from tests.integration.test_build_config_edit import _build, _write
from tests.integration.test_build_inregistry import inregistry_manifest, vault
from tests.support import oci_bases
from tests.support.fixtures_docker import ImageNames
from tests.support.oci_bases import StartRegistry, push_base

pytestmark = pytest.mark.docker
registries = oci_bases.registries  # the fixture
__all__ = ["registries", "vault"]


def _labelled(client: Any, base: str, label: str, marker: str) -> Any:
    dockerfile = f"FROM {base}\nLABEL org.example.marker={marker}\nLABEL {LABEL}={json.dumps(label)}\n"
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), rm=True, network_mode="none")
    return image


def test_rt16_2_a_hostile_label_does_not_choose_the_engine_rebakes_base(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = image_names()
    manifest = _write(tmp_path / "baker.yaml", busybox_base, {"TOKEN": "rotation-1"}, tag)
    code, document, _ = _build(["build", "-f", str(manifest)], capsys)
    assert code == 0
    image_names.track(document["image_id"])
    record = json.loads(docker_client.api.inspect_image(tag)["Config"]["Labels"][LABEL])

    # The attacker's image (stands for their layers) reaches the engine, and an image under the
    # baked tag whose label records it as the base (the name recorded stays the user's base).
    evil = _labelled(docker_client, busybox_base, "{}", f"evil-{uuid.uuid4().hex}")
    image_names.track(evil.id)
    record["base"] = {"ref": busybox_base, "digest": evil.id}
    swapped = _labelled(docker_client, busybox_base, json.dumps(record, separators=(",", ":")), "swap")
    image_names.track(swapped.id)
    swapped.tag(tag)

    _write(manifest, busybox_base, {"TOKEN": "rotation-2"}, tag)  # a rotation: the re-bake is due
    code, document, err = _build(["build", "-f", str(manifest), "--if-stale"], capsys)
    if code == 0:
        image_names.track(document["image_id"])
        labels = docker_client.api.inspect_image(tag)["Config"]["Labels"]
        # The values must not land on the image the label chose.
        assert not labels.get("org.example.marker", "").startswith("evil-"), err


@pytest.mark.emulator
def test_rt16_3_a_hostile_label_does_not_choose_the_registry_the_rebake_reads(
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = registries()
    attacker = registries()  # another origin the manifest never names
    first = push_base(registry.api, "team/base", index=False, platforms=("linux/amd64",))
    raw, media_type = registry.api.manifest("team/base", first.digest)
    registry.api.put_manifest("team/base", "1", raw, media_type)
    base = f"{registry.host}/team/base:1"
    tag = f"{registry.host}/team/app:baked"
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base, extra={"ROUND": "one"})
    code, document, err = _build(["build", "--in-registry", "-f", str(manifest), "--tag", tag], capsys)
    assert code == 0, err

    # The image under the tag is replaced by one whose label records the attacker's base.
    evil = push_base(attacker.api, "evil/base", index=False, platforms=("linux/amd64",))
    raw, media_type = attacker.api.manifest("evil/base", evil.digest)
    attacker.api.put_manifest("evil/base", "1", raw, media_type)
    app_raw, app_type = registry.api.manifest("team/app", document["digest"])
    baked = json.loads(app_raw)
    config = json.loads(registry.api.blob("team/app", baked["config"]["digest"]))
    record = json.loads(config["config"]["Labels"][LABEL])
    record["base"] = {"ref": f"{attacker.host}/evil/base:1", "digest": evil.digest}
    config["config"]["Labels"][LABEL] = json.dumps(record, separators=(",", ":"))
    config_bytes = json.dumps(config).encode()
    digest = registry.api.put_blob("team/app", config_bytes)
    baked["config"] = {**baked["config"], "digest": digest, "size": len(config_bytes)}
    registry.api.put_manifest("team/app", "baked", json.dumps(baked).encode(), app_type)

    inregistry_manifest(manifest, vault, base, extra={"ROUND": "two"})  # a change: the re-bake is due
    code, document, err = _build(
        ["build", "--in-registry", "--if-stale", "-f", str(manifest), "--tag", tag], capsys
    )
    assert attacker.host not in err, err  # baker read (and baked onto) the attacker's registry
    if code == 0:
        rebaked = json.loads(registry.api.manifest("team/app", document["digest"])[0])
        assert [layer["digest"] for layer in rebaked["layers"]] != evil.layers["linux/amd64"]

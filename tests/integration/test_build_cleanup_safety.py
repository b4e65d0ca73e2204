"""baker's clean-up removes exactly what a bake made and never what it did not: not a user's base,
not an image someone built FROM a baked one, not a tag it was interrupted while moving.  And a base
whose ONBUILD triggers would see the values is refused.  Real engine, base images by `docker import`."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.image import engine
from baker.provenance import BAKE_ID_LABEL
from tests.support.fixtures_docker import ImageNames
from tests.support.manifests import write_manifest

pytestmark = pytest.mark.docker


def _build_on(client: Any, base: str, tag: str | None = None) -> str:
    """A user's own image FROM `base` (one cheap step), as their own tooling would make it.  Unique,
    so the engine's build cache never hands two tests (or two runs) the same image."""
    dockerfile = io.BytesIO(f"FROM {base}\nLABEL made.by=user made.for={uuid.uuid4().hex}\n".encode())
    image, _ = client.images.build(fileobj=dockerfile, tag=tag, rm=True, network_mode="none")
    return str(image.id)


def test_a_base_with_onbuild_triggers_is_refused_before_any_value_reaches_it(
    tmp_path: Path, docker_client: Any, busybox_base: str, image_names: ImageNames
) -> None:
    trap = image_names("onbuild-base", "1")
    base_id = image_names.track(_build_on(docker_client, busybox_base))
    image = docker_client.images.get(base_id)
    # An ONBUILD that would print the value (what a hostile or careless base could do).
    dockerfile = io.BytesIO(f'FROM {image.id}\nONBUILD ARG SECRET\nONBUILD RUN echo "$SECRET"\n'.encode())
    docker_client.images.build(fileobj=dockerfile, tag=trap, rm=True, network_mode="none")
    value = f"onbuild-canary-{uuid.uuid4().hex}"
    manifest = write_manifest(tmp_path / "baker.yaml", base=trap, env={"SECRET": value})
    tag = image_names()
    assert main(["build", "-f", str(manifest), "--tag", tag]) == 1
    assert not image_names.exists(tag)
    assert image_names.holding(value) == []


def test_the_bake_clean_up_never_removes_a_tagged_image_built_from_a_baked_one(
    tmp_path: Path, docker_client: Any, busybox_base: str, image_names: ImageNames
) -> None:
    baked = image_names("baked")
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"A": "a-value-123"})
    assert main(["build", "-f", str(manifest), "--tag", baked]) == 0
    bake_id = docker_client.images.get(baked).labels[BAKE_ID_LABEL]
    theirs = image_names("theirs")
    image_names.track(_build_on(docker_client, baked, tag=theirs))  # inherits the bake-id label
    base_id = docker_client.images.get(busybox_base).id
    engine.remove_labelled(BAKE_ID_LABEL, bake_id, base=base_id, client=docker_client, rounds=3)
    assert image_names.exists(theirs)
    assert image_names.exists(baked)


def test_a_failed_bake_never_removes_the_users_own_untagged_base(
    tmp_path: Path, docker_client: Any, busybox_base: str, image_names: ImageNames
) -> None:
    user_base = _build_on(docker_client, busybox_base)  # untagged, named by its id
    image_names.track(user_base)
    manifest = write_manifest(tmp_path / "baker.yaml", base=user_base, env={"A": "a-value-456"})
    tag = "127.0.0.1:9/baker-test/app:will-not-push"  # a registry nobody listens on
    image_names.names.append(tag)
    assert main(["build", "-f", str(manifest), "--tag", tag, "--push"]) == 1
    assert image_names.exists(user_base)
    assert image_names.holding("a-value-456") == []


def test_a_rebake_removes_the_superseded_bake_and_its_old_values_but_not_a_users_image(
    tmp_path: Path, docker_client: Any, busybox_base: str, image_names: ImageNames
) -> None:
    tag = image_names("app")
    old = f"old-value-{uuid.uuid4().hex}"
    assert (
        main(
            [
                "build",
                "-f",
                str(write_manifest(tmp_path / "a.yaml", base=busybox_base, env={"A": old})),
                "--tag",
                tag,
            ]
        )
        == 0
    )
    first = docker_client.images.get(tag).id
    assert (
        main(
            [
                "build",
                "-f",
                str(write_manifest(tmp_path / "b.yaml", base=busybox_base, env={"A": "new-value"})),
                "--tag",
                tag,
            ]
        )
        == 0
    )
    assert not image_names.exists(first)
    assert image_names.holding(old) == []  # the ENV step under it went too

    # A user's image built FROM a baked one inherits its labels, but is not a bake's output.
    users = image_names("users")
    user_image = image_names.track(_build_on(docker_client, tag, tag=users))
    assert (
        main(
            [
                "build",
                "-f",
                str(write_manifest(tmp_path / "c.yaml", base=busybox_base, env={"A": "v3"})),
                "--tag",
                users,
            ]
        )
        == 0
    )
    assert image_names.exists(user_image)

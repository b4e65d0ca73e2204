"""baker's clean-up removes exactly what a bake made and never what it did not: not a user's base,
not an image someone built FROM a baked one.  And a base's ONBUILD triggers never run during a bake
(it is a config edit: nothing runs).  Real engine, base images by `docker import`."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from tests.support.fixtures_docker import ImageNames
from tests.support.manifests import write_manifest

pytestmark = pytest.mark.docker


def _build_on(client: Any, base: str, tag: str | None = None) -> str:
    """A user's own image FROM `base` (one cheap step), as their own tooling would make it.  Unique,
    so the engine's build cache never hands two tests (or two runs) the same image."""
    dockerfile = io.BytesIO(f"FROM {base}\nLABEL made.by=user made.for={uuid.uuid4().hex}\n".encode())
    image, _ = client.images.build(fileobj=dockerfile, tag=tag, rm=True, network_mode="none")
    return str(image.id)


def test_a_bases_onbuild_triggers_never_run_during_the_bake_and_stay_in_the_image(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trap = image_names("onbuild-base", "1")
    base_id = image_names.track(_build_on(docker_client, busybox_base))
    image = docker_client.images.get(base_id)
    # An ONBUILD that would print the value (what a hostile or careless base could do).
    triggers = ["ARG SECRET", 'RUN echo "$SECRET"']
    dockerfile = io.BytesIO((f"FROM {image.id}\n" + "".join(f"ONBUILD {t}\n" for t in triggers)).encode())
    docker_client.images.build(fileobj=dockerfile, tag=trap, rm=True, network_mode="none")
    value = f"onbuild-canary-{uuid.uuid4().hex}"
    manifest = write_manifest(tmp_path / "baker.yaml", base=trap, env={"SECRET": value})
    tag = image_names()
    assert main(["build", "-f", str(manifest), "--tag", tag, "--json"]) == 0
    captured = capsys.readouterr()
    image_names.track(json.loads(captured.out)["image_id"])
    assert value not in captured.out + captured.err
    assert docker_client.api.inspect_image(tag)["Config"]["OnBuild"] == triggers
    assert [i for i in image_names.holding(value) if i != docker_client.images.get(tag).id] == []


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
    assert image_names.holding(old) == []

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

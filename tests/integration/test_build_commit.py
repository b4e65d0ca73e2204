"""A bake's commit — its tags, push and the removal of the image it superseded — against a real
engine: a stop signal lets it complete, a second bake of the same tag never loses its image or its
tag to this one, and whatever the engine refuses to remove is named with the command to remove it.

Two bakes race deterministically: one is paused at a chosen step through a seam (`engine.push`,
`engine.remove_superseded`) while the other runs."""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.errors import EngineError
from baker.image import engine
from baker.image.bake import bake
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.support.fixtures_docker import ImageNames
from tests.support.manifests import write_manifest
from tests.support.registry import local_registry

pytestmark = pytest.mark.docker

__all__ = ["local_registry"]

DEAD_REGISTRY = "127.0.0.1:9"  # nobody listens: a push there fails


def _loaded(base: str, value: str) -> tuple[Manifest, ResolvedEnv]:
    manifest = Manifest(
        path="baker.yaml",
        image=ImageSpec(base=base, build=None),
        credentials={},
        env=(EnvEntry("VALUE", LiteralValue(value)),),
    )
    resolved = ResolvedEnv(
        (
            Resolved(
                env="VALUE", value=Secret(value), source=LiteralValue(value), version=None, properties=None
            ),
        )
    )
    return manifest, resolved


@pytest.fixture
def containers(docker_client: Any) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for container in made:
        docker_client.api.remove_container(container, force=True)


# -- B: a stop during the commit lets it complete --------------------------------------------------


def _signal_when(monkeypatch: pytest.MonkeyPatch, name: str, signums: list[int]) -> None:
    real = getattr(engine, name)

    def signalled(*args: Any, **kwargs: Any) -> Any:
        for signum in signums:
            os.kill(os.getpid(), signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, name, signalled)


@pytest.mark.parametrize("signums", [[signal.SIGTERM], [signal.SIGHUP, signal.SIGINT]])
def test_a_stop_as_the_superseded_image_is_removed_completes_the_bake_and_exits_130(
    signums: list[int],
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = image_names()
    old, new = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    assert (
        main(
            [
                "build",
                "-f",
                str(write_manifest(tmp_path / "a.yaml", base=busybox_base, env={"V": old})),
                "--tag",
                tag,
            ]
        )
        == 0
    )
    _signal_when(monkeypatch, "remove_superseded", signums)
    code = main(
        [
            "build",
            "-f",
            str(write_manifest(tmp_path / "b.yaml", base=busybox_base, env={"V": new})),
            "--tag",
            tag,
        ]
    )
    assert code == 130
    assert f"V={new}" in engine.inspect_image(tag, client=docker_client).env  # type: ignore[union-attr]
    assert image_names.holding(old) == []  # the superseded image went, with its ENV step
    captured = capsys.readouterr()
    assert "the bake completed first" in captured.out + captured.err


def test_signals_during_a_failed_push_s_clean_up_do_not_cut_it_short(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = f"{DEAD_REGISTRY}/baker-test/t-{uuid.uuid4().hex[:12]}:baked"
    image_names.names.append(tag)
    value = f"cleanup-{uuid.uuid4().hex}"
    _signal_when(monkeypatch, "restore_tags", [signal.SIGTERM, signal.SIGINT])
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"V": value})
    assert main(["build", "-f", str(manifest), "--tag", tag, "--push"]) == 130
    assert not image_names.exists(tag)
    assert image_names.holding(value) == []


# -- D: two bakes of the same tag at once ---------------------------------------------------------


def _pause_in(
    monkeypatch: pytest.MonkeyPatch, name: str, thread: str
) -> tuple[threading.Event, threading.Event]:
    """`engine.<name>`, called from the thread named `thread`, waits for `go`; `reached` is set then."""
    reached, go = threading.Event(), threading.Event()
    real: Callable[..., Any] = getattr(engine, name)

    def paused(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == thread:
            reached.set()
            assert go.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, name, paused)
    return reached, go


@pytest.mark.parametrize("first_push", ["fails", "succeeds"])
def test_two_bakes_of_one_tag_never_remove_each_others_image_or_tag(
    first_push: str,
    busybox_base: str,
    docker_client: Any,
    image_names: ImageNames,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Bake A tags T and is pushing (paused there) when bake B bakes T to completion.  B must not
    remove A's image as superseded; A, whose push then fails or succeeds, must not take T from B;
    and A's image (holding A's values), untagged by B, is removed by A itself when it ends."""
    registry = DEAD_REGISTRY if first_push == "fails" else request.getfixturevalue("local_registry")
    tag = f"{registry}/baker-test/t-{uuid.uuid4().hex[:12]}:baked"
    image_names.names.append(tag)
    value_a, value_b = f"bake-a-{uuid.uuid4().hex}", f"bake-b-{uuid.uuid4().hex}"
    reached, go = _pause_in(monkeypatch, "push", thread="bake-a")
    outcome: list[BaseException | str] = []

    def run_a() -> None:
        manifest, resolved = _loaded(busybox_base, value_a)
        try:
            result = bake(manifest, resolved, tags=[tag], push=True, on_line=lambda line: None)
            outcome.append(result.image_id)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run_a, name="bake-a")
    thread.start()
    try:
        assert reached.wait(60), "bake A never reached its push"
        a_image = image_names.image_id(tag)
        manifest, resolved = _loaded(busybox_base, value_b)
        b_result = bake(manifest, resolved, tags=[tag], push=False, on_line=lambda line: None)
        image_names.track(b_result.image_id)
        assert a_image not in b_result.removed
        assert image_names.exists(a_image), "bake B removed the image bake A was still pushing"
    finally:
        go.set()
        thread.join(120)
    assert image_names.image_id(tag) == b_result.image_id  # A did not take T back from B
    if first_push == "fails":
        assert isinstance(outcome[0], EngineError)
    else:
        assert outcome[0] == a_image
    assert image_names.holding(value_a) == []  # A's image went, with A
    assert image_names.holding(value_b) != []


# -- N: what the engine refuses to remove is named ------------------------------------------------


def test_a_superseded_image_a_container_holds_is_named_with_the_command_to_remove_it(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    containers: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = image_names()
    assert (
        main(
            [
                "build",
                "-f",
                str(write_manifest(tmp_path / "a.yaml", base=busybox_base, env={"V": "old-1"})),
                "--tag",
                tag,
            ]
        )
        == 0
    )
    first = image_names.track(image_names.image_id(tag))
    containers.append(docker_client.api.create_container(first)["Id"])
    capsys.readouterr()
    manifest = write_manifest(tmp_path / "b.yaml", base=busybox_base, env={"V": "new-1"})
    assert main(["build", "-f", str(manifest), "--tag", tag, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["left"] == [first]
    assert f"docker image rm {first}" in captured.out + captured.err


def test_a_failed_bakes_image_a_container_holds_is_named_with_the_command_to_remove_it(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    containers: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = f"{DEAD_REGISTRY}/baker-test/t-{uuid.uuid4().hex[:12]}:baked"
    image_names.names.append(tag)
    real_push = engine.push

    def push_after_a_container_took_it(name: str, *args: Any, **kwargs: Any) -> str:
        image = image_names.track(image_names.image_id(name))
        containers.append(docker_client.api.create_container(image)["Id"])
        return real_push(name, *args, **kwargs)

    monkeypatch.setattr(engine, "push", push_after_a_container_took_it)
    manifest = write_manifest(
        tmp_path / "baker.yaml", base=busybox_base, env={"V": f"held-{uuid.uuid4().hex}"}
    )
    assert main(["build", "-f", str(manifest), "--tag", tag, "--push"]) == 1
    err = capsys.readouterr().err
    held = image_names.ids[-1]
    assert image_names.exists(held)  # the container holds it: the engine refuses
    assert "refused to remove" in err
    assert f"docker image rm {held}" in err

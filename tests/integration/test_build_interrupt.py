"""A bake stopped part-way — Ctrl-C, twice, or SIGTERM / SIGHUP as a cancelled CI job sends — exits
130 and leaves no image holding a value and no file behind, wherever in the bake it was stopped.

The real command runs as a subprocess against the real engine; the signal is sent when baker says it
is baking (the baked config is made, the load is next), after a delay, so it lands before, during or
just after the load.  (`test_build_interrupt_trials` stops bakes at random moments throughout.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from baker.errors import BakeStopped
from baker.image import bake as bake_module
from baker.image import engine
from tests.support.fixtures_docker import ImageNames
from tests.support.manifests import write_manifest

pytestmark = pytest.mark.docker


def _run_and_signal(manifest: Path, tag: str, tmp: Path, at: str, signals: list[int], delay: float) -> int:
    """Run `baker build`, send `signals` `delay` seconds after its stderr shows a line starting
    with `at`."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    process = subprocess.Popen(
        [sys.executable, "-m", "baker", "build", "-f", str(manifest), "--tag", tag],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:
        if line.startswith(at):
            time.sleep(delay)
            for number, signum in enumerate(signals):
                if number:
                    time.sleep(0.005)
                process.send_signal(signum)
            break
        assert time.monotonic() < deadline, "the build never reached the step"
    process.communicate(timeout=60)
    return process.returncode


# A large value makes the load take a moment, so a signal can land inside it.
CASES = {
    "sigterm-before-load": ("baking ", [signal.SIGTERM], 0.0),
    "sighup-during-load": ("baking ", [signal.SIGHUP], 0.01),
    "double-ctrl-c-during-load": ("baking ", [signal.SIGINT, signal.SIGINT], 0.01),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bake_stopped_by_a_signal_exits_130_and_leaves_no_image_holding_a_value(
    case: str, tmp_path: Path, busybox_base: str, image_names: ImageNames
) -> None:
    at, signals, delay = CASES[case]
    value = f"interrupted-value-{uuid.uuid4().hex}" + "x" * 2_000_000
    marker = value[:40]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    manifest = write_manifest(
        tmp_path / "baker.yaml", base=busybox_base, env={"BIG": value, "OTHER": "other-value-1"}
    )
    tag = image_names()
    code = _run_and_signal(manifest, tag, tmp, at, signals, delay)
    assert code == 130
    if image_names.exists(tag):  # the stop landed in the commit: the bake completed, nothing else holds it
        assert image_names.holding(marker) == [image_names.track(image_names.image_id(tag))]
        return
    assert not image_names.exists(tag)
    assert image_names.holding(marker) == []
    assert list(tmp.iterdir()) == []


def test_an_image_the_engine_loads_after_baker_stopped_listening_is_removed_by_the_undo(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second signal lets baker escape a load the engine has not finished: the engine commits the
    image after the undo began.  The undo knows the image by its id (the config's digest, computed
    before the load) and watches for it, so it still goes."""
    load = engine.load_config
    started = threading.Event()
    loads: list[threading.Thread] = []

    def escape_before_the_engine_answers(*args: Any, **kwargs: Any) -> str:
        def run() -> None:
            started.set()
            time.sleep(0.5)  # the engine is slow: the undo starts first
            load(*args, **kwargs)

        loads.append(threading.Thread(target=run))
        loads[-1].start()
        started.wait(10)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "load_config", escape_before_the_engine_answers)
    value = f"late-load-value-{uuid.uuid4().hex}"
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": value})

    from baker.manifest.checks import load as load_manifest
    from baker.resolver import resolve

    loaded = load_manifest(manifest)
    with pytest.raises(KeyboardInterrupt):
        bake_module.bake(loaded, resolve(loaded), tags=[], push=False, on_line=lambda line: None)
    for thread in loads:
        thread.join(30)
    assert image_names.holding(value) == []


def test_a_load_escaped_and_not_committed_within_the_settle_time_is_named_with_the_command_to_remove_it(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rte-3: a second signal escapes a load the engine has not committed when the undo's watch
    (LOAD_SETTLE) ends.  The engine may still commit it, holding every value: the undo says so, names
    the image and its lease name with the command to remove it, and never claims the bake undone."""
    monkeypatch.setattr(bake_module, "LOAD_SETTLE", 0.3)

    def escape_before_the_engine_commits(*args: Any, **kwargs: Any) -> str:
        raise KeyboardInterrupt  # the answer is never read: `answered` is not called

    monkeypatch.setattr(engine, "load_config", escape_before_the_engine_commits)
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": "x"})

    from baker.manifest.checks import load as load_manifest
    from baker.resolver import resolve

    loaded = load_manifest(manifest)
    lines: list[str] = []
    with pytest.raises(BakeStopped) as stopped:  # a KeyboardInterrupt: exit 130
        bake_module.bake(loaded, resolve(loaded), tags=[image_names()], push=False, on_line=lines.append)
    warned = [line for line in lines if "may still finish loading the baked image sha256:" in line]
    assert len(warned) == 1, lines
    assert "`docker rmi baker-bake-in-progress:" in warned[0]
    assert not [line for line in lines if "the bake was undone" in line]
    assert lines[-1].startswith("stopped: no tag moved")
    # what may remain, for the command's --json document: the name it would be committed under
    assert len(stopped.value.left) == 1 and stopped.value.left[0].startswith("baker-bake-in-progress:")
    assert f"`docker rmi {stopped.value.left[0]}`" in warned[0]
    assert stopped.value.not_restored == ()

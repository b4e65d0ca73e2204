"""A bake stopped part-way — Ctrl-C, twice, or SIGTERM / SIGHUP as a cancelled CI job sends — exits
130 and leaves no image holding a value and no file behind, wherever in the build it was stopped.

The real command runs as a subprocess against the real engine; the signal is sent when the engine's
stream shows the step named, so it lands before, during or just after the step that sets the values.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from baker.image import bake as bake_module
from baker.image import engine
from baker.image.engine import build as engine_build
from tests.support.fixtures_docker import ImageNames
from tests.support.manifests import write_manifest

pytestmark = pytest.mark.docker


def _run_and_signal(manifest: Path, tag: str, tmp: Path, at: str, signals: list[int]) -> int:
    """Run `baker build`, send `signals` once its stderr shows a line starting with `at`."""
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
            for number, signum in enumerate(signals):
                if number:
                    time.sleep(0.005)
                process.send_signal(signum)
            break
        assert time.monotonic() < deadline, "the build never reached the step"
    process.communicate(timeout=60)
    return process.returncode


# A large value makes the ENV step take a moment, so a signal can land inside it.
CASES = {
    "sigterm-before-env": ("Step 3/", [signal.SIGTERM]),
    "sigterm-after-env": ("Step 5/", [signal.SIGTERM]),
    "sighup-during-env": ("Step 4/", [signal.SIGHUP]),
    "double-ctrl-c-after-env": ("Step 5/", [signal.SIGINT, signal.SIGINT]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bake_stopped_by_a_signal_exits_130_and_leaves_no_image_holding_a_value(
    case: str, tmp_path: Path, busybox_base: str, image_names: ImageNames
) -> None:
    at, signals = CASES[case]
    value = f"interrupted-value-{uuid.uuid4().hex}" + "x" * 200_000
    marker = value[:40]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    manifest = write_manifest(
        tmp_path / "baker.yaml", base=busybox_base, env={"BIG": value, "OTHER": "other-value-1"}
    )
    tag = image_names()
    code = _run_and_signal(manifest, tag, tmp, at, signals)
    assert code == 130
    assert not image_names.exists(tag)
    assert image_names.holding(marker) == []
    assert list(tmp.iterdir()) == []


def test_the_bake_label_finds_images_the_stream_never_reported(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the stream-based clean-up switched off (as when a second signal cuts the stream short),
    the bake's label alone finds and removes every image it made, the ENV step's included."""
    monkeypatch.setattr(engine_build, "_drain", lambda stream, state: None)
    # Off both in the build's own clean-up (engine/build.py) and in the bake's undo (image/bake.py).
    monkeypatch.setattr(engine_build, "remove_image", lambda *args, **kwargs: False)
    monkeypatch.setattr(engine, "remove_image", lambda *args, **kwargs: False)
    value = f"unreported-value-{uuid.uuid4().hex}"
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": value})

    def stop_after_env(line: str) -> None:
        if line.startswith("Step 5/"):  # the ENV step's image (holding the value) exists by now
            raise KeyboardInterrupt

    from baker.manifest.checks import load
    from baker.resolver import resolve

    loaded = load(manifest)
    with pytest.raises(KeyboardInterrupt):
        bake_module.bake(loaded, resolve(loaded), tags=[], push=False, on_line=stop_after_env)
    assert image_names.holding(value) == []

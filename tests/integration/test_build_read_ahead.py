"""The engine reads a bake makes whatever the values (the base's id and exact config, the image
store's kind) run on a thread while the values resolve (`image.bake.read_ahead`), against the real
engine and the emulator: they overlap the resolution, a failure among them is the bake's failure
after resolution with the same error and exit as when the bake made them itself, and a stop during
resolution while they are under way exits 130, leaves nothing, and lets the thread make no further
call."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from baker import pipeline
from baker.cli import main
from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from baker.errors import EngineError
from baker.image import engine
from baker.image.bake import bake
from baker.manifest.checks import load
from baker.resolver import resolve
from tests.support.fixtures_docker import ImageNames
from tests.support.manifests import azure_credential, write_manifest

pytestmark = [pytest.mark.docker, pytest.mark.emulator]

READS = "baker-engine-reads"  # the thread's name
VALUE = "sk-demo-4f9a1c2e7b"  # openai-api-key in the demo world


@pytest.fixture
def manifest(
    emulator: Emulator,
    azure_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
) -> Path:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    credential = azure_credential(emulator.vault_url("demo"), TENANT, CLIENT_ID)
    env = {"LOG_LEVEL": "info", "OPENAI_API_KEY": {"secret": "openai-api-key"}, "RUN": uuid.uuid4().hex}
    return write_manifest(
        tmp_path / "baker.yaml",
        base=busybox_base,
        tag=image_names(),
        credentials={"demo": credential},
        env=env,
    )


@pytest.fixture
def timeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, float]]]:
    """(what, thread name, when it ended) for the base's config read, the image store's kind and
    the resolution."""
    events: list[tuple[str, str, float]] = []

    def recorded(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return real(*args, **kwargs)
            finally:
                events.append((name, threading.current_thread().name, time.monotonic()))

        return call

    monkeypatch.setattr(engine, "base_config", recorded("base_config", engine.base_config))
    monkeypatch.setattr(engine, "wants_layers", recorded("wants_layers", engine.wants_layers))
    monkeypatch.setattr(pipeline, "resolve_warned", recorded("resolve", pipeline.resolve_warned))
    yield events


def test_the_base_s_config_and_the_image_store_are_read_while_the_values_resolve(
    manifest: Path,
    emulator: Emulator,
    timeline: list[tuple[str, str, float]],
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.faults.latency = 0.4  # Key Vault answers slowly; the engine meanwhile
    assert main(["build", "-f", str(manifest)]) == 0
    ended = {name: (thread, when) for name, thread, when in timeline}
    assert ended["base_config"][0] == ended["wants_layers"][0] == READS
    assert ended["base_config"][1] < ended["resolve"][1]
    assert ended["wants_layers"][1] < ended["resolve"][1]
    assert [name for name, _, _ in timeline].count("base_config") == 1  # read once, not again after
    info = engine.inspect_image(load(manifest).image.tags[0])
    assert info is not None and f"OPENAI_API_KEY={VALUE}" in info.env
    captured = capsys.readouterr()
    assert VALUE not in captured.out + captured.err


def _refused_save(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine refuses the base's `docker save` (as an engine out of disk space would)."""

    def refused(self: Any, image: str, chunk_size: int | None = None) -> Any:
        raise docker.errors.APIError("refused", explanation="no space left on device")

    monkeypatch.setattr(docker.APIClient, "get_image", refused)


def test_a_base_read_refused_on_the_thread_fails_the_bake_after_resolution_as_it_did_before(
    manifest: Path,
    timeline: list[tuple[str, str, float]],
    monkeypatch: pytest.MonkeyPatch,
    image_names: ImageNames,
    docker_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _refused_save(monkeypatch)
    assert main(["build", "-f", str(manifest), "--json"]) == EngineError.exit_code
    document = json.loads(capsys.readouterr().out)
    expected = (
        "reading the base image's config (docker save) failed: the engine refused: no space left on device"
    )
    assert (document["error"], document["message"]) == ("EngineError", expected)
    assert [(name, thread) for name, thread, _ in timeline if name != "wants_layers"] == [
        ("base_config", READS),
        ("resolve", "baker-stoppable"),
    ]  # refused while the values resolved; raised once they had
    # The same error the bake raises when it reads the base itself (no read ahead: the Python API).
    loaded = load(manifest)
    with pytest.raises(EngineError) as caught:
        bake(loaded, resolve(loaded), tags=[], push=False, on_line=lambda line: None, client=docker_client)
    assert caught.value.message == expected
    assert not image_names.exists(loaded.image.tags[0])
    assert image_names.holding(VALUE) == []


def test_a_stop_while_the_values_resolve_and_the_base_is_read_exits_130_and_leaves_nothing(
    manifest: Path,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    image_names: ImageNames,
) -> None:
    emulator.faults.latency = 1.0
    reading, finish = threading.Event(), threading.Event()
    calls: list[str] = []
    real_config, real_layers = engine.base_config, engine.wants_layers

    def slow_config(*args: Any, **kwargs: Any) -> bytes:
        calls.append("base_config")
        reading.set()
        assert finish.wait(30)  # a `docker save` of a large base, still under way
        return real_config(*args, **kwargs)

    def layers(*args: Any, **kwargs: Any) -> bool:
        calls.append("wants_layers")
        return real_layers(*args, **kwargs)

    monkeypatch.setattr(engine, "base_config", slow_config)
    monkeypatch.setattr(engine, "wants_layers", layers)

    def stop_once_reading() -> None:
        assert reading.wait(30)
        time.sleep(0.2)  # the values are still resolving (each vault answer takes 1 s)
        os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_reading)
    stopper.start()
    started = time.monotonic()
    code = main(["build", "-f", str(manifest)])
    took = time.monotonic() - started
    stopper.join()
    assert code == 130
    assert took < 5  # the stop did not wait for the base's read
    reads = next(t for t in threading.enumerate() if t.name == READS)
    finish.set()
    reads.join(30)
    assert not reads.is_alive()
    assert calls == ["base_config"]  # stopped: no further engine call after the one under way
    tag = load(manifest).image.tags[0]
    assert not image_names.exists(tag)
    assert image_names.holding(VALUE) == []

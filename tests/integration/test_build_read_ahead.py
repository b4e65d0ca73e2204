"""The engine work a bake does whatever the values (the image store's kind, the load opened, the
base's id and exact config) runs on threads while the values resolve (`image.bake.read_ahead`),
against the real engine and the emulator: it overlaps the resolution; a failure among the reads is
the bake's failure after resolution with the same error and exit as when the bake made them itself;
a stop or a failed resolution while it is under way exits as before and leaves nothing (the opened
load is aborted: the engine creates no image), and the threads make no further call; a load no
longer open when the values arrive is made anew."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
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

READS = "baker-engine-reads"  # the threads' names
LOAD = "baker-engine-load"
VALUE = "sk-demo-4f9a1c2e7b"  # openai-api-key in the demo world


@pytest.fixture
def run() -> str:
    """This test's own literal, baked beside the value: every image a bake of this test makes
    holds it, and no other test's does (the engine is shared with the other workers, which bake
    the demo world's values too): what "no image" and "one image" are counted by."""
    return f"run-{uuid.uuid4().hex}"


@pytest.fixture
def manifest(
    run: str,
    emulator: Emulator,
    azure_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
) -> Path:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    credential = azure_credential(emulator.vault_url("demo"), TENANT, CLIENT_ID)
    env = {"LOG_LEVEL": "info", "OPENAI_API_KEY": {"secret": "openai-api-key"}, "RUN": run}
    return write_manifest(
        tmp_path / "baker.yaml",
        base=busybox_base,
        tag=image_names(),
        credentials={"demo": credential},
        env=env,
    )


def _ended(name: str) -> None:
    """The helper thread `name`, if any is left, ends within seconds."""
    for thread in [t for t in threading.enumerate() if t.name == name]:
        thread.join(30)
        assert not thread.is_alive()


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The thread each load request is sent from."""
    sent: list[str] = []
    real = docker.APIClient.load_image

    def load_image(self: Any, data: Any, quiet: Any = None) -> Any:
        sent.append(threading.current_thread().name)
        return real(self, data, quiet=quiet)

    monkeypatch.setattr(docker.APIClient, "load_image", load_image)
    return sent


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


def test_the_base_s_config_and_the_image_store_are_read_and_the_load_opened_while_the_values_resolve(
    manifest: Path,
    emulator: Emulator,
    timeline: list[tuple[str, str, float]],
    loads: list[str],
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.faults.latency = 0.4  # Key Vault answers slowly; the engine meanwhile
    assert main(["build", "-f", str(manifest)]) == 0
    assert loads == [LOAD]  # one load, the one opened ahead
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
    run: str,
    manifest: Path,
    emulator: Emulator,
    timeline: list[tuple[str, str, float]],
    monkeypatch: pytest.MonkeyPatch,
    image_names: ImageNames,
    docker_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _refused_save(monkeypatch)
    emulator.faults.latency = 0.5  # the refusal comes while the values resolve, however loaded the machine
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
    assert image_names.holding(run) == []  # no image of this bake, the value's or any other


def test_a_stop_while_the_values_resolve_and_the_base_is_read_exits_130_and_leaves_nothing(
    run: str,
    manifest: Path,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    image_names: ImageNames,
    loads: list[str],
) -> None:
    emulator.faults.latency = 1.0
    reading, finish = threading.Event(), threading.Event()
    calls: list[str] = []
    real_inspect, real_config = engine.inspect_image, engine.base_config

    def slow_inspect(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == READS:
            calls.append("inspect_image")
            reading.set()
            assert finish.wait(30)  # an engine slow to answer
        return real_inspect(*args, **kwargs)

    def config(*args: Any, **kwargs: Any) -> bytes:
        calls.append("base_config")
        return real_config(*args, **kwargs)

    monkeypatch.setattr(engine, "inspect_image", slow_inspect)
    monkeypatch.setattr(engine, "base_config", config)

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
    assert took < 5  # the stop did not wait for the engine's answer
    assert loads == [LOAD]  # the load had been opened
    reads = next(t for t in threading.enumerate() if t.name == READS)
    finish.set()
    reads.join(30)
    assert not reads.is_alive()
    assert calls == ["inspect_image"]  # stopped: no further engine call after the one under way
    _ended(LOAD)  # the opened load was aborted
    tag = load(manifest).image.tags[0]
    assert not image_names.exists(tag)
    assert image_names.holding(run) == []  # the engine created no image of this bake


def test_a_failed_resolution_aborts_the_opened_load_and_the_engine_creates_no_image(
    run: str,
    manifest: Path,
    loads: list[str],
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest.write_text(manifest.read_text().replace("openai-api-key", "no-such-secret"))
    code = main(["build", "-f", str(manifest), "--json"])
    assert code != 0 and json.loads(capsys.readouterr().out)["error"] != "EngineError"
    _ended(LOAD)
    assert loads == [LOAD]  # it was opened, then aborted
    assert image_names.holding(run) == []  # the engine created no image of this bake


def test_a_load_no_longer_open_when_the_values_arrive_is_made_anew(
    manifest: Path,
    loads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    image_names: ImageNames,
) -> None:
    """The opened load's request ended before the bake needed it (a proxy dropped an idle
    connection, say): nothing holding a value was sent on it, and the bake loads anew."""
    real = engine.open_load

    def dropped(client: Any) -> engine.OpenedLoad:
        opened = real(client)
        opened.abort()
        return opened

    monkeypatch.setattr(engine, "open_load", dropped)
    assert main(["build", "-f", str(manifest)]) == 0
    assert loads == [LOAD, "MainThread"]
    info = engine.inspect_image(load(manifest).image.tags[0])
    assert info is not None and f"OPENAI_API_KEY={VALUE}" in info.env


def test_a_load_whose_connection_is_cut_as_the_archive_goes_is_made_anew_and_makes_one_image(
    run: str,
    manifest: Path,
    loads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    image_names: ImageNames,
) -> None:
    """The opened load's connection breaks as the archive is sent (aborted under it): the same
    archive is loaded anew, which makes the same image (its id is the config's digest): exactly
    one.  (Not ECONNRESET: urllib3 takes a reset while sending as the server's early answer, and
    reads it; a real reset then fails that read.)"""
    real = engine.OpenedLoad._body

    def cut(self: engine.OpenedLoad) -> Iterator[bytes]:
        body = real(self)
        yield next(body)  # the lead
        next(body)  # the archive, handed over
        raise ConnectionAbortedError(errno.ECONNABORTED, "Software caused connection abort")

    monkeypatch.setattr(engine.OpenedLoad, "_body", cut)
    assert main(["build", "-f", str(manifest)]) == 0
    assert loads == [LOAD, "MainThread"]
    info = engine.inspect_image(load(manifest).image.tags[0])
    assert info is not None and f"OPENAI_API_KEY={VALUE}" in info.env
    assert image_names.holding(run) == [info.id]


def test_push_targets_that_refuse_are_refused_before_any_secret_is_fetched_or_load_opened(
    run: str, manifest: Path, emulator: Emulator, loads: list[str], image_names: ImageNames
) -> None:
    """Two push targets nobody answers: each registry must take the push before the first is
    pushed (`check_tags`), and the pipeline asks before anything is resolved: no secret fetched,
    no engine read ahead, no load opened (before, the values were fetched and a load opened, and
    the refusal then left that load open: rte-4)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tags = [f"{host}:{port}/baker-test/app:{run}" for host in ("127.0.0.1", "127.0.0.2")]
    emulator.reset_stats()
    code = main(["build", "-f", str(manifest), "--push", "--tag", tags[0], "--tag", tags[1]])
    assert code == EngineError.exit_code
    assert [r for r in emulator.requests() if "/secrets/" in r.path] == []
    assert loads == []
    _ended(LOAD)
    assert image_names.holding(run) == []

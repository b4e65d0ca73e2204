"""Stop signals at random moments over the whole bake — resolve (against the emulator), the base's
config read, the load, tag,
superseded removal, push (to a loopback registry) — with each signal kind, single and double.

Every outcome must be one of the SPEC's two: the bake completed (tag moved and pushed, the image
it superseded removed; exit 0, or 130 when the stop arrived during its commit) or nothing changed
(exit 130: tag and registry as before).  No image may hold a trial's values unless its tag names it,
checked by the Env of every image that carries the provenance label.

Several independent trial streams run at once, each on its own tag; within a stream each trial
supersedes the last.  Delays are drawn from a seeded generator (the seed is printed; set
BAKER_TRIAL_SEED to replay), measured from the moment the process catches SIGTERM: before that,
the interpreter itself is starting and no program can answer a signal.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests

from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from baker.provenance import LABEL
from tests.support.fixtures_docker import rootfs as base_rootfs
from tests.support.manifests import azure_credential, write_manifest
from tests.support.registry import local_registry

pytestmark = [pytest.mark.docker, pytest.mark.emulator]

__all__ = ["local_registry"]

STREAMS = 4
TRIALS_PER_STREAM = 27  # 108 in all: 18 of each (signal kind, single or double)
KINDS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
HANG = 45  # seconds: a bake takes about 2 (more on a loaded machine)
HUNG = -1000  # the exit code recorded for a bake that did not end in time


@dataclass(frozen=True)
class Trial:
    stream: int
    number: int
    signums: tuple[int, ...]
    delay: float
    gap: float  # between the two signals of a double

    def __str__(self) -> str:
        names = "+".join(signal.Signals(s).name for s in self.signums)
        return f"stream {self.stream} trial {self.number}: {names} at {self.delay:.3f}s (gap {self.gap:.3f}s)"


class Engine:
    """What the engine holds: each baked image's Env and parent (images never change, so each id is
    inspected once)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seen: dict[str, tuple[tuple[str, ...], str]] = {}

    def holding(self, text: str) -> set[str]:
        found = set()
        for image_id in self.client.api.images(all=True, quiet=True, filters={"label": LABEL}):
            if image_id not in self.seen:
                try:
                    data = self.client.api.inspect_image(image_id)
                except docker.errors.NotFound:
                    continue
                self.seen[image_id] = (
                    tuple((data.get("Config") or {}).get("Env") or ()),
                    data.get("Parent") or "",
                )
            if any(text in item for item in self.seen[image_id][0]):
                found.add(image_id)
        return found

    def tagged(self, tag: str) -> tuple[str | None, list[str]]:
        try:
            data = self.client.api.inspect_image(tag)
        except docker.errors.NotFound:
            return None, []
        return str(data["Id"]), list(data.get("RepoTags") or [])

    def env(self, image_id: str) -> tuple[str, ...]:
        return tuple(self.client.api.inspect_image(image_id)["Config"].get("Env") or ())


def _registry_digest(host: str, repository: str) -> str | None:
    answer = requests.get(
        f"http://{host}/v2/{repository}/manifests/t", headers={"Accept": MANIFEST_V2}, timeout=10
    )
    return answer.headers.get("Docker-Content-Digest") if answer.status_code == 200 else None


def _catches_sigterm(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except FileNotFoundError:
        pass
    return False


def _manifest(path: Path, vault_url: str, base: str, canary: str) -> Path:
    credential = azure_credential(vault_url, TENANT, CLIENT_ID)
    env = {"API_KEY": {"secret": "openai-api-key"}, "CANARY": canary}
    return write_manifest(path, base=base, credentials={"demo": credential}, env=env)


def _bake(manifest: Path, tag: str, env: dict[str, str], trial: Trial | None) -> tuple[int, float, str]:
    """Run `baker build --push`; signal it per `trial`.  Exit code, seconds, stderr's tail."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "baker", "build", "-f", str(manifest), "--tag", tag, "--push"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    if trial is not None:
        while not _catches_sigterm(process.pid) and process.poll() is None:
            time.sleep(0.001)
        time.sleep(trial.delay)
        for number, signum in enumerate(trial.signums):
            if number:
                time.sleep(trial.gap)
            if process.poll() is None:
                process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack on stderr
        _, err = process.communicate(timeout=30)
        return HUNG, time.monotonic() - started, err.decode(errors="replace")[-6000:]
    return process.returncode, time.monotonic() - started, err.decode(errors="replace")[-1500:]


def test_a_hundred_stops_at_random_moments_each_complete_the_bake_or_change_nothing(
    tmp_path: Path,
    emulator: Emulator,
    busybox_base: str,
    docker_client: Any,
    local_registry: str,
) -> None:
    seed = int(os.environ.get("BAKER_TRIAL_SEED") or time.time_ns() % 1_000_000)
    print(f"\ninterrupt trials: BAKER_TRIAL_SEED={seed}")
    run = uuid.uuid4().hex[:10]
    engine = Engine(docker_client)
    env = {
        **os.environ,
        **emulator.client_env(),
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
        "PYTHONFAULTHANDLER": "1",
    }
    env.pop("CI", None)  # no CI-only behaviour in the child; its output is not checked here
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    tags = [f"{local_registry}/baker-trial/{run}-s{stream}:t" for stream in range(STREAMS)]
    started = time.monotonic()

    # Each stream bakes on a base of its own (the streams' images apart, as separate apps would be).
    bases = [f"baker-trial/base-{run}-s{stream}:1" for stream in range(STREAMS)]
    for base in bases:
        docker_client.api.import_image_from_data(
            base_rootfs(), repository=base.rsplit(":", 1)[0], tag="1", changes=['CMD ["env"]']
        )

    def stream(number: int) -> None:
        tag = tags[number]
        repository = tag[len(local_registry) + 1 : -2]
        rng = random.Random(f"{seed}-{number}")
        home = tmp_path / f"s{number}"
        home.mkdir()
        child = {**env, "TMPDIR": str(home)}
        busybox_base = bases[number]
        # A first, unsignalled bake: the image every trial's bake supersedes, and the bake's length.
        code, length, err = _bake(
            _manifest(home / "m0.yaml", emulator.vault_url("demo"), busybox_base, f"{run}-s{number}-t0"),
            tag,
            child,
            None,
        )
        assert code == 0, err
        for n in range(1, TRIALS_PER_STREAM + 1):
            index = number * TRIALS_PER_STREAM + n
            kind = KINDS[index % 3]
            double = (index // 3) % 2 == 1
            trial = Trial(
                stream=number,
                number=n,
                signums=(kind, rng.choice(KINDS)) if double else (kind,),
                delay=rng.uniform(0, length * 1.05),
                gap=rng.uniform(0, 0.3),
            )
            canary = f"{run}-s{number}-t{n}"
            before, _ = engine.tagged(tag)
            pushed_before = _registry_digest(local_registry, repository)
            manifest = _manifest(home / f"m{n}.yaml", emulator.vault_url("demo"), busybox_base, canary)
            code, _, err = _bake(manifest, tag, child, trial)
            after, names = engine.tagged(tag)
            problems = []
            if code not in (0, 130):
                problems.append("hung" if code == HUNG else f"exit {code}")
            if after is not None and f"CANARY={canary}" in engine.env(after):
                outcome = f"completed-{code}"
                if _registry_digest(local_registry, repository) == pushed_before:
                    problems.append("completed but not pushed")
            elif after == before:
                outcome = f"unchanged-{code}"
                if code != 130:
                    problems.append(f"nothing changed but exit {code}")
                if _registry_digest(local_registry, repository) != pushed_before:
                    problems.append("nothing changed locally but the registry moved")
            else:
                outcome = "broken"
                problems.append(f"tag moved to {after}, not this bake's image")
            if names != [tag]:
                problems.append(f"the image is also named {names}")
            allowed = {after} if after is not None else set()  # one image per bake: no step images
            leftover = engine.holding(f"{run}-s{number}-") - allowed
            if leftover:
                problems.append(f"images hold a trial's values, unnamed: {sorted(leftover)}")
            if list(home.glob("baker-*")):
                problems.append("a file was left in TMPDIR")
            outcomes[f"{outcome} {'double' if double else 'single'}"] += 1
            if problems:
                failures.append(f"{trial} (seed {seed}): {outcome}: {'; '.join(problems)}\n{err}")

    try:
        with ThreadPoolExecutor(STREAMS) as pool:
            list(pool.map(stream, range(STREAMS)))
    finally:
        elapsed = time.monotonic() - started
        print(
            f"interrupt trials: {sum(outcomes.values())} in {elapsed:.1f}s: {dict(sorted(outcomes.items()))}"
        )
        for image_id in engine.holding(run):  # this run's images only
            for tag in tags:
                with contextlib.suppress(docker.errors.APIError):
                    docker_client.api.remove_image(tag, noprune=False)
            with contextlib.suppress(docker.errors.APIError):
                docker_client.api.remove_image(image_id, force=True, noprune=True)
        for base in bases:
            with contextlib.suppress(docker.errors.APIError):
                docker_client.api.remove_image(base, noprune=False)
    assert failures == [], "\n\n".join(failures[:5])
    assert sum(outcomes.values()) == STREAMS * TRIALS_PER_STREAM

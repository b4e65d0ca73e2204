"""baker's CI-native output against the real parts (the emulator, a real engine, Debian's
docker-registry on loopback): `$GITHUB_OUTPUT` carries the registry's own digest and whether a bake
happened; `check` on a registry reference reads the registry's copy (what a deploy pulls), not a
stale copy the runner's engine kept; Azure Pipelines gets the same outputs as `task.setvariable`."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from tests.integration.test_build_push import (  # noqa: F401 - fixtures
    Registry,
    StartRegistry,
    docker_config,
    start_registry,
)
from tests.integration.test_examples_ci_run import (  # noqa: F401 - fixtures
    _manifest,
    _runner_env,
    ci_emulator,
)
from tests.support.fixtures_docker import ImageNames

pytestmark = [pytest.mark.docker, pytest.mark.emulator]


def _outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: `name<<DELIM` ... `DELIM` blocks (later wins)."""
    found: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
    index = 0
    while index < len(lines) - 1:
        name, delimiter = lines[index].split("<<", 1)
        assert delimiter.startswith("ghadelimiter_") and len(delimiter) > 30  # random, per value
        end = lines.index(delimiter, index + 1)
        found[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    return found


class Job:
    """One CI job's steps on one runner: the same workspace, engine and environment."""

    def __init__(self, workspace: Path, runner: dict[str, str]) -> None:
        self.workspace, self.runner = workspace, runner
        self.step = 0

    def run(self, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
        self.step += 1
        output = self.workspace.parent / f"output-{self.step}"
        result = subprocess.run(
            ["baker", *args],
            cwd=self.workspace,
            env={**self.runner, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert CLIENT_SECRET not in result.stdout + result.stderr
        return result, _outputs(output)


@pytest.fixture
def job(
    tmp_path: Path,
    ci_emulator: Emulator,  # noqa: F811
    docker_config: Path,  # noqa: F811
) -> Job:
    workspace = tmp_path / "checkout"
    workspace.mkdir()
    runner = {
        **_runner_env(ci_emulator, docker_config),
        "AZURE_TENANT_ID": TENANT,
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
    }
    return Job(workspace, runner)


def _base(registry: Registry, docker_client: Any, busybox_base: str, image_names: ImageNames) -> str:
    base = f"{registry.host}/your-org/app-base:1"
    docker_client.images.get(busybox_base).tag(base)
    image_names.names.append(base)
    docker_client.images.push(base)
    return base


def test_github_output_digest_is_the_registrys_and_rebaked_is_true_then_false(
    job: Job,
    ci_emulator: Emulator,  # noqa: F811
    start_registry: StartRegistry,  # noqa: F811
    image_names: ImageNames,
    busybox_base: str,
    docker_client: Any,
) -> None:
    registry = start_registry()
    _manifest(job.workspace, ci_emulator, _base(registry, docker_client, busybox_base, image_names))
    image = f"{registry.host}/your-org/app:baked"

    baked, outputs = job.run("build", "--in-registry", "--if-stale", "--tag", image)
    assert baked.returncode == 0, baked.stderr
    assert outputs["rebaked"] == "true"
    assert outputs["digest"] == registry.manifest_digest("your-org/app", "baked")
    assert outputs["tags"] == image

    again, outputs = job.run("build", "--in-registry", "--if-stale", "--tag", image)
    assert again.returncode == 0, again.stderr
    assert outputs == {"digest": "", "tags": "", "rebaked": "false"}

    ci_emulator.set_secret("demo", "openai-api-key", f"rotated-{uuid.uuid4().hex}")
    checked, outputs = job.run("check", "--image", image, "--no-ci")
    assert checked.returncode == 3 and outputs == {}  # --no-ci: nothing for the runner
    rebaked, outputs = job.run("build", "--in-registry", "--if-stale", "--tag", image)
    assert rebaked.returncode == 0 and outputs["rebaked"] == "true"
    assert outputs["digest"] == registry.manifest_digest("your-org/app", "baked") != baked.stdout


def test_azure_pipelines_gets_the_outputs_as_output_variables(
    job: Job,
    ci_emulator: Emulator,  # noqa: F811
    start_registry: StartRegistry,  # noqa: F811
    image_names: ImageNames,
    busybox_base: str,
    docker_client: Any,
) -> None:
    registry = start_registry()
    _manifest(job.workspace, ci_emulator, _base(registry, docker_client, busybox_base, image_names))
    image = f"{registry.host}/your-org/app:baked"
    result, _ = job.run(
        "build", "--in-registry", "--tag", image, "--json", GITHUB_ACTIONS="", TF_BUILD="True"
    )
    assert result.returncode == 0, result.stderr
    digest = registry.manifest_digest("your-org/app", "baked")
    assert f"##vso[task.setvariable variable=digest;isOutput=true]{digest}" in result.stderr.splitlines()
    assert "##vso[task.setvariable variable=rebaked;isOutput=true]true" in result.stderr.splitlines()
    assert '"digest": "' + str(digest) in result.stdout  # stdout is still the one JSON document


def test_check_on_a_registry_reference_reads_the_registry_not_a_stale_engine_copy(
    job: Job,
    ci_emulator: Emulator,  # noqa: F811
    start_registry: StartRegistry,  # noqa: F811
    image_names: ImageNames,
    busybox_base: str,
    docker_client: Any,
) -> None:
    # A runner that keeps an engine (self-hosted, Azure agents, GitLab shell executors): the push run
    # baked with the engine and pushed; the engine keeps that copy.  A rotation, then the scheduled
    # re-bake in the registry: the engine's copy is now stale, the registry's current.
    registry = start_registry()
    _manifest(job.workspace, ci_emulator, _base(registry, docker_client, busybox_base, image_names))
    image = f"{registry.host}/your-org/app:baked"
    image_names.names.append(image)
    pushed, _ = job.run("build", "--push", "--tag", image)
    assert pushed.returncode == 0, pushed.stderr
    ci_emulator.set_secret("demo", "openai-api-key", f"rotated-{uuid.uuid4().hex}")
    rebaked, _ = job.run("build", "--in-registry", "--if-stale", "--tag", image)
    assert rebaked.returncode == 0, rebaked.stderr
    assert image_names.exists(image)  # the stale local copy is still there

    current, outputs = job.run("check", "--image", image)
    assert current.returncode == 0, current.stdout + current.stderr
    assert "read from the registry" in current.stdout and outputs == {"stale": "false"}

    engine, outputs = job.run("check", "--image", image, "--source", "engine")
    assert engine.returncode == 3 and "read from the local engine" in engine.stdout
    assert "OPENAI_API_KEY" in engine.stdout and outputs == {"stale": "true"}

    registry_read, _ = job.run("check", "--image", image, "--source", "registry")
    assert registry_read.returncode == 0 and "read from the registry" in registry_read.stdout

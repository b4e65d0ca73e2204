"""The CI templates (examples/ci/*.yml, with the action, steps template and component they use) run
as written: each baker step (tests/ci_roads.py realizes them), in order, in a subprocess given
exactly the environment that template gives that step, against the emulator, the real engine
and Debian's docker-registry on loopback.

What stands in for the CI system, and nothing else:
- its expressions (`${{ secrets.X }}`, `${{ vars.X }}`, `$(X)`, GitLab's `$X` in variables) are
  filled from the CI settings each template's header asks for (`SETTINGS`), with the registry
  pointed at the loopback one;
- the runner: PATH (baker installed), HOME, the machine's CA trust (the emulator's CA), the Docker
  engine (GitLab's `docker:dind` service: its DOCKER_HOST / TLS variables are replaced by the
  local engine) and an empty docker config (the loopback registry needs no `docker login`);
- which steps a push and a schedule run (`WHEN`: each template's `if:` / `condition:` / `rules:`
  text, mapped to the events it lets through; a new condition fails the test until mapped).
Only lines that run baker are run; `pip install` and `docker login` are the runner's business.

Each template runs in both of its sign-in variants: as written (workload identity: the runner's
GitHub OIDC endpoint when the workflow has `permissions: id-token: write`, Azure Pipelines'
SYSTEM_OIDCREQUESTURI with the step's mapped System.AccessToken, GitLab's `id_tokens:` minted by the
emulator's issuer) with no client secret anywhere in any step's environment; and with the lines marked
"client-secret alternative" un-commented and the client secret in the CI settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from tests.ci_roads import EVENTS, TEMPLATES, Step, realize
from tests.integration.test_build_push import (  # noqa: F401 - fixtures
    Registry,
    StartRegistry,
    docker_config,
    start_registry,
)
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EXAMPLE_WORLD, EmulatorFactory
from tests.support.manifests import write_manifest

pytestmark = [pytest.mark.docker, pytest.mark.emulator]

REPOSITORY = "your-org/app"
VARIANTS = ("workload-identity", "client-secret")
GITHUB_SUBJECT = f"repo:{REPOSITORY}:ref:refs/heads/main"
GITLAB_SUBJECT = f"project_path:{REPOSITORY}:ref_type:branch:ref:main"
SERVICE_CONNECTION = "5c5c5c5c-0000-4000-8000-0000000000c1"


def _settings(registry: str, variant: str = "client-secret") -> dict[str, dict[str, str]]:
    """The CI settings each template's header asks a user to make, with test values; the workload
    identity variant has no client secret anywhere."""
    settings = {
        "vars": {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT_ID, "REGISTRY": registry},
        "secrets": {"AZURE_CLIENT_SECRET": CLIENT_SECRET, "GITHUB_TOKEN": "unused-by-baker"},
        # Azure Pipelines' variable group "baker": the secret one is not in any step's environment.
        "group": {
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_SERVICE_CONNECTION_ID": SERVICE_CONNECTION,
            "REGISTRY": registry,
        },
        "group_secrets": {"AZURE_CLIENT_SECRET": CLIENT_SECRET},
        # GitLab: project CI/CD variables (every job gets them) and the predefined job variables.
        "gitlab": {
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": CLIENT_ID,
            "AZURE_CLIENT_SECRET": CLIENT_SECRET,
            "CI_REGISTRY": registry,
            "CI_REGISTRY_IMAGE": f"{registry}/{REPOSITORY}",
        },
        # What the CI system itself gives (filled by `_keyless_runner` for the keyless variant).
        "system": {"System.AccessToken": "unused-system-access-token"},
    }
    if variant == "workload-identity":
        for group in settings.values():
            group.pop("AZURE_CLIENT_SECRET", None)
    return settings


def ci_world() -> dict[str, Any]:
    """The demo world, its app also trusting each CI system's OIDC tokens for this repository."""
    world: dict[str, Any] = yaml.safe_load(EXAMPLE_WORLD.read_text(encoding="utf-8"))
    world["tenants"][TENANT]["apps"][CLIENT_ID]["federated_credentials"] = [
        {"issuer": "https://oidc.localhost/github", "subject": GITHUB_SUBJECT},
        {"issuer": "https://oidc.localhost/devops", "subject": f"sc://{REPOSITORY}/baker-kv"},
        {"issuer": "https://oidc.localhost/gitlab", "subject": GITLAB_SUBJECT},
    ]
    world["oidc"] = {
        "github_actions": {"subject": GITHUB_SUBJECT},
        "azure_pipelines": {"service_connections": {SERVICE_CONNECTION: f"sc://{REPOSITORY}/baker-kv"}},
    }
    return world


def _manifest(directory: Path, emu: Emulator, base: str, variant: str = "client-secret") -> None:
    """The user's baker.yaml: its credential leaves tenant_id, client_id, client_secret out, as each
    template's header says, so baker reads AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET.
    The workload identity variant is one manifest for all three CI systems: the token sources a job
    does not have are skipped."""
    credential: dict[str, Any] = {
        "provider": "azure-key-vault",
        "vault_url": emu.vault_url("demo"),
        "authority_host": emu.authority_host,
        "default": True,
    }
    if variant == "workload-identity":
        credential.update(
            {
                "auth": "workload-identity",
                "service_connection_id": "${AZURE_SERVICE_CONNECTION_ID}",
                "federated_token": "${AZURE_FEDERATED_TOKEN}",
            }
        )
    env = {
        "LOG_LEVEL": "info",
        "OPENAI_API_KEY": {"secret": "openai-api-key"},
        "DB_PASSWORD": {"secret": "database-credentials#password"},
    }
    write_manifest(directory / "baker.yaml", base=base, credentials={"prod": credential}, env=env)


def _keyless_settings(emu: Emulator, settings: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """What each CI system gives a job for workload identity, from the emulator's endpoints."""
    pipelines = emu.azure_pipelines_env()
    return {
        **settings,
        "github_oidc": emu.github_actions_env(),
        "pipelines_predefined": {"SYSTEM_OIDCREQUESTURI": pipelines["SYSTEM_OIDCREQUESTURI"]},
        "system": {"System.AccessToken": pipelines["SYSTEM_ACCESSTOKEN"]},
        "gitlab_id_tokens": {
            "api://AzureADTokenExchange": emu.mint_id_token(GITLAB_SUBJECT, issuer="/gitlab", lifetime=600)
        },
    }


def _runner_env(emu: Emulator, config: Path) -> dict[str, str]:
    baker = shutil.which("baker", path=str(Path(sys.executable).parent))
    assert baker, "baker is not installed next to this Python"
    env = {
        "PATH": f"{Path(baker).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(config.parent),
        "DOCKER_CONFIG": str(config),
        "REQUESTS_CA_BUNDLE": str(emu.ca_bundle),
        "SSL_CERT_FILE": str(emu.ca_bundle),
    }
    for name in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@pytest.fixture
def ci_emulator(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(ci_world())


@pytest.fixture
def workspace(tmp_path: Path, ci_emulator: Emulator, busybox_base: str) -> Iterator[Path]:
    directory = tmp_path / "checkout"
    directory.mkdir()
    _manifest(directory, ci_emulator, busybox_base)
    yield directory


def _run(step: Step, workspace: Path, runner: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", step.script],
        cwd=workspace,
        env={**step.env, **runner},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("template", TEMPLATES)
def test_template_steps_succeed_as_written_on_push_then_on_schedule_after_a_rotation(
    template: str,
    variant: str,
    workspace: Path,
    ci_emulator: Emulator,
    start_registry: StartRegistry,  # noqa: F811 - the fixture imported above
    docker_config: Path,  # noqa: F811
    image_names: ImageNames,
    busybox_base: str,
    docker_client: Any,
) -> None:
    emulator = ci_emulator
    registry: Registry = start_registry()
    # The app image the pipeline bakes on lives in the registry (both roads bake in the registry).
    base = f"{registry.host}/your-org/app-base:1"
    docker_client.images.get(busybox_base).tag(base)
    image_names.names.append(base)
    docker_client.images.push(base)
    _manifest(workspace, emulator, base, variant)
    settings = _settings(registry.host, variant)
    if variant == "workload-identity":
        settings = _keyless_settings(emulator, settings)
    steps = realize(template, variant, settings, workspace)
    runner = _runner_env(emulator, docker_config)
    assert {s.command for s in steps} >= {"validate", "test-connection", "build", "check"}
    if variant == "workload-identity":  # no client secret anywhere in any step's environment
        for step in steps:
            assert not any(
                "CLIENT_SECRET" in k or v == CLIENT_SECRET for k, v in {**step.env, **runner}.items()
            )
    build = next(s for s in steps if s.command == "build")
    image = build.argv[build.argv.index("--tag") + 1]
    assert image.startswith(f"{registry.host}/")  # the template's registry is the CI setting
    repository, tag = image.removeprefix(f"{registry.host}/").rsplit(":", 1)

    digests: dict[str, str | None] = {}
    for event in EVENTS:
        if event == "schedule":
            emulator.set_secret("demo", "openai-api-key", f"rotated-{uuid.uuid4().hex}")
        ran = [step for step in steps if event in step.events]
        assert ran[0].command == "validate"
        for step in ran:
            result = _run(step, workspace, runner)
            assert result.returncode == 0, (template, event, step.name, step.argv, result.stderr)
            assert CLIENT_SECRET not in result.stdout + result.stderr
            assert "eyJ" not in result.stdout + result.stderr  # no OIDC or access token
        digests[event] = registry.manifest_digest(repository, tag)
    assert digests["push"] is not None  # the push run baked and pushed
    assert digests["schedule"] not in (None, digests["push"])  # the rotation was re-baked and pushed
    if variant == "workload-identity":  # the CI system's OIDC endpoint was asked (GitLab's token is given)
        seen = {r.host for r in emulator.requests()}
        endpoint = {"github-actions.yml": "github.localhost", "azure-pipelines.yml": "devops.localhost"}
        assert {"login.localhost", endpoint.get(template, "login.localhost")} <= seen


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_validate_step_passes_without_the_client_secret_and_names_it(
    template: str,
    workspace: Path,
    ci_emulator: Emulator,
    docker_config: Path,  # noqa: F811
) -> None:
    # A pull request from a fork (GitHub), an unprotected branch (GitLab) or the step as written
    # (Azure Pipelines maps no secret into it): the secret store gives nothing.
    (validate, *_) = realize(template, "client-secret", _settings("127.0.0.1:5000"), workspace)
    assert validate.command == "validate"
    env = {k: v for k, v in validate.env.items() if k != "AZURE_CLIENT_SECRET"}
    result = _run(
        Step(validate.name, validate.script, env, validate.events, validate.argv),
        workspace,
        _runner_env(ci_emulator, docker_config),
    )
    assert result.returncode == 0, result.stderr
    assert "AZURE_CLIENT_SECRET" in result.stderr and "warning:" in result.stderr


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_validate_step_passes_without_an_oidc_token_and_names_the_sources(
    template: str,
    workspace: Path,
    ci_emulator: Emulator,
    docker_config: Path,  # noqa: F811
) -> None:
    # A pull request from a fork gets no OIDC token: validate warns, naming where it looked, and passes.
    _manifest(workspace, ci_emulator, "busybox", "workload-identity")
    settings = _settings("127.0.0.1:5000", "workload-identity")
    (validate, *_) = realize(template, "workload-identity", settings, workspace)
    assert validate.command == "validate"
    result = _run(validate, workspace, _runner_env(ci_emulator, docker_config))
    assert result.returncode == 0, result.stderr
    assert "no federated token" in result.stderr and "ACTIONS_ID_TOKEN_REQUEST_URL" in result.stderr

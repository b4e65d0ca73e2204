"""The CI templates (examples/ci/*.yml and what they use: action.yml, the Azure Pipelines steps
template, the GitLab component): valid YAML, every baker command line they run parses with the real
CLI, both roads bake in the registry (one tag shape), baker comes from its own source, no secret in
them.  tests/integration/test_examples_ci_run.py and test_ci_act.py run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from baker.cli import build_parser
from tests.ci_roads import (
    ACTION,
    AZURE_STEPS,
    CI_DIR,
    GITLAB_COMPONENT,
    ROOT,
    TEMPLATES,
    Step,
    realize,
)

FILES = [*sorted(CI_DIR.glob("*.yml")), ACTION, AZURE_STEPS, GITLAB_COMPONENT]
NAMES = [str(p.relative_to(ROOT)) for p in FILES]
SETTINGS = {
    "vars": {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "REGISTRY": "registry.example.com"},
    "secrets": {"AZURE_CLIENT_SECRET": "from-the-store", "GITHUB_TOKEN": "x"},
    "group": {
        "AZURE_TENANT_ID": "t",
        "AZURE_CLIENT_ID": "c",
        "AZURE_SERVICE_CONNECTION_ID": "s",
        "REGISTRY": "registry.example.com",
    },
    "group_secrets": {"AZURE_CLIENT_SECRET": "from-the-store"},
    "gitlab": {
        "CI_REGISTRY": "registry.example.com",
        "CI_REGISTRY_IMAGE": "registry.example.com/your-org/app",
    },
    "system": {"System.AccessToken": "x"},
}


def _steps(template: str, variant: str = "workload-identity") -> list[Step]:
    return realize(template, variant, SETTINGS, Path("/tmp/checkout"))


def test_every_pipeline_the_readme_promises_exists() -> None:
    assert tuple(p.name for p in sorted(CI_DIR.glob("*.yml"))) == TEMPLATES


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_pipeline_is_valid_yaml_mapping(path: Path) -> None:
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert all(isinstance(d, dict) and d for d in documents)


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_baker_command_parses_with_the_real_cli_when_realized(template: str) -> None:
    steps = _steps(template)
    assert {s.command for s in steps} >= {"validate", "test-connection", "build", "check"}
    parser = build_parser()
    for step in steps:
        try:
            parser.parse_args(list(step.argv))
        except SystemExit as exc:  # argparse refuses unknown flags by exiting 2
            pytest.fail(f"{template}: {step.argv!r} does not parse (exit {exc.code})")


@pytest.mark.parametrize("template", TEMPLATES)
def test_pipeline_bakes_in_the_registry_on_push_and_rebakes_when_stale_on_schedule(template: str) -> None:
    steps = _steps(template)
    push = [s.argv for s in steps if s.command == "build" and "push" in s.events]
    schedule = [s.argv for s in steps if s.command == "build" and "schedule" in s.events]
    # One tag shape: both roads bake in the registry (every platform of image.from).
    assert push and all("--in-registry" in a and "--if-stale" not in a for a in push)
    assert schedule and all("--in-registry" in a and "--if-stale" in a for a in schedule)
    checks = [s for s in steps if s.command == "check"]
    assert checks and all("schedule" in s.events for s in checks)


@pytest.mark.parametrize("template", TEMPLATES)
def test_pipeline_installs_baker_from_its_own_source_not_a_package_index(template: str) -> None:
    text = (CI_DIR / template).read_text(encoding="utf-8")
    assert "keyvault-baker==" not in text and "pip install" not in text
    if template == "github-actions.yml":
        assert "uses: your-org/baker@v1" in text
    elif template == "azure-pipelines.yml":
        assert "template: ci/azure-pipelines/steps.yml@baker" in text and "repository: baker" in text
    else:
        assert "component: $CI_SERVER_FQDN/your-org/baker/baker@1" in text
    for installer in (ACTION, AZURE_STEPS, GITLAB_COMPONENT):
        assert "ci/install.sh" in installer.read_text(encoding="utf-8")
    lock = (ROOT / "ci" / "requirements.lock").read_text(encoding="utf-8")
    pins = [line for line in lock.splitlines() if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", p) for p in pins)


def test_action_outputs_come_from_bakers_own_step_and_inputs_reach_it_only_through_the_environment() -> None:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert set(action["outputs"]) == {"digest", "tags", "rebaked", "stale"}
    assert all(o["value"] == f"${{{{ steps.baker.outputs.{n} }}}}" for n, o in action["outputs"].items())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        # An input pasted into a script is shell injection; in `env:` it is data.
        assert "inputs." not in str(step.get("run", "")), step


@pytest.mark.parametrize("template", TEMPLATES)
def test_pipeline_takes_the_client_secret_from_the_ci_secret_store_and_never_echoes_it(template: str) -> None:
    path = CI_DIR / template
    text = path.read_text(encoding="utf-8")
    assert "AZURE_CLIENT_SECRET" in text
    for line in text.splitlines():
        code = line.split(" #", 1)[0]
        assignment = re.match(r"\s*#?\s*-?\s*AZURE_CLIENT_SECRET\s*[:=]\s*(\S.*)$", code)
        if assignment:
            # Only a reference into the CI system's secret store, never a literal.
            assert re.fullmatch(r"\$\{\{\s*secrets\.\w+\s*\}\}|\$\(\w+\)", assignment.group(1).strip()), line
        lowered = code.lower()
        assert not re.search(r"\b(echo|printf|cat)\b[^|]*\$\{?azure_client_secret", lowered), line
        assert "set -x" not in lowered and "--password " not in lowered and " -p " not in lowered, line
    if template != "gitlab-ci.yml":  # GitLab's CI/CD variables reach every job: nothing to map
        secret = [s for s in _steps(template, "client-secret") if s.env.get("AZURE_CLIENT_SECRET")]
        assert {s.command for s in secret} >= {"test-connection", "build", "check"}


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_pipeline_holds_no_secret_literal(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for canary in ("demo-client-secret", "sk-demo", "hunter2", "BEGIN DEMO KEY"):
        assert canary not in text
    # Nothing that looks like an Entra client secret value (e.g. `abc8Q~...`) or a base64 blob.
    assert not re.search(r"[A-Za-z0-9_.-]{3}\dQ~[A-Za-z0-9_.~-]{20,}", text)
    assert not re.search(r"[A-Za-z0-9+/]{40,}={0,2}", text)

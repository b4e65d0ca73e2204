"""The install steps of the CI templates, run as written: baker installed from its own source (no
package index entry for baker; its dependencies pinned by ci/requirements.lock, from this machine's
package index) by the Azure Pipelines steps template's install step (with the agent's macros and
the `task.prependpath` it prints) and by the GitLab component's `before_script` (a clone of baker's
repository at its tag, the install, the registry login written where baker reads it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ci_roads import GITLAB_COMPONENT, expand_azure_template
from tests.integration.test_ci_act import action_source


def _env(tmp_path: Path) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    return env


def test_the_azure_steps_template_installs_baker_from_its_checkout_and_puts_it_on_the_path(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "pipeline"
    action_source(workspace / "baker-source")  # what `checkout: baker` with `path: baker-source` gives
    (install,) = [
        s for s in expand_azure_template({"command": "validate"}) if "install.sh" in s.get("script", "")
    ]
    checkout = next(s for s in expand_azure_template({}) if "checkout" in s)
    assert checkout == {"checkout": "baker", "path": "baker-source"}
    macros = {"Pipeline.Workspace": str(workspace), "Agent.TempDirectory": str(tmp_path / "agent-temp")}
    script = re.sub(r"\$\(([\w.]+)\)", lambda m: macros[m[1]], install["script"])
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    venv_bin = tmp_path / "agent-temp" / "baker-venv" / "bin"
    assert f"##vso[task.prependpath]{venv_bin}" in result.stdout.splitlines()
    version = subprocess.run(
        [str(venv_bin / "baker"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("baker ")
    # The pins, and nothing else of baker's, came from the package index: baker from the checkout.
    frozen = subprocess.run(
        [str(venv_bin / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    pins = {
        line.lower()
        for line in (workspace / "baker-source/ci/requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {line.lower() for line in frozen if "==" in line and not line.startswith("keyvault-baker")} <= pins
    # A second run of the step (a warm agent) keeps the virtualenv.
    again = subprocess.run(
        ["bash", "-e", "-c", script], env=_env(tmp_path), capture_output=True, text=True, check=False
    )
    assert again.returncode == 0 and "(cached)" in again.stdout


def test_the_gitlab_component_clones_baker_at_its_tag_installs_it_and_logs_in_for_baker(
    tmp_path: Path,
) -> None:
    source = action_source(tmp_path / "baker-repo")
    git = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "v1"], ["tag", "v1"]):
        subprocess.run([*git, *argv], cwd=source, check=True, capture_output=True)
    spec_text, jobs_text = GITLAB_COMPONENT.read_text(encoding="utf-8").split("\n---\n", 1)
    inputs = {k: str(v.get("default", "")) for k, v in yaml.safe_load(spec_text)["spec"]["inputs"].items()}
    inputs["baker_source"] = str(source)
    jobs = yaml.safe_load(re.sub(r"\$\[\[\s*inputs\.(\w+)\s*\]\]", lambda m: inputs[m[1]], jobs_text))
    builds = tmp_path / "builds"
    builds.mkdir()
    (builds / "baker.yaml").write_text("version: 1\nimage:\n  from: busybox:1.36\nenv:\n  A: x\n")
    env = {
        **_env(tmp_path),
        **{k: str(v) for k, v in jobs[".baker"]["variables"].items()},
        "CI_BUILDS_DIR": str(builds),
        "CI_REGISTRY": "registry.example.com",
        "CI_REGISTRY_USER": "gitlab-ci-token",
        "CI_REGISTRY_PASSWORD": "job-token-C4n4ry",
    }
    script = "\n".join(jobs[".baker"]["before_script"])
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=builds,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "job-token-C4n4ry" not in result.stdout + result.stderr
    assert "ok: baker.yaml" in result.stdout  # the component's `baker validate`
    config = json.loads((builds / ".baker-docker" / "config.json").read_text())
    assert set(config["auths"]) == {"registry.example.com"}
    assert oct((builds / ".baker-docker" / "config.json").stat().st_mode & 0o777) == "0o600"


pytestmark = [pytest.mark.timeout(900)]

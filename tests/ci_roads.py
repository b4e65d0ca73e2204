"""The CI templates, realized into the steps a CI system would run: for each step, the bash it runs,
exactly the environment the template gives it, and the events (push, schedule) it runs on.

- GitHub Actions: examples/ci/github-actions.yml; a step `uses: your-org/baker@v1` becomes the
  action's own run step (action.yml: its inputs mapped into the environment as action.yml maps
  them, then ci/run-baker.sh from this checkout);
- Azure Pipelines: examples/ci/azure-pipelines.yml; each `template: ci/azure-pipelines/steps.yml@baker`
  is expanded as Azure DevOps expands it (parameters, `${{ if }}`, `${{ each }}`, `lower`), its
  baker step run with the template's `env:` mapping;
- GitLab: examples/ci/gitlab-ci.yml; its `include: component:` is templates/baker.yml with the
  inputs given (GitLab's `$[[ inputs.X ]]`), each job's baker lines run with the job's variables.

What stands in for the CI system is the caller's `settings` (the CI settings each template's
header asks a user to make, and what the system itself gives a job).  Steps that install baker or
log in to a registry are the runner's business here (the `act` run and tests/integration/
test_ci_install.py run those); a new condition fails until mapped in `WHEN`.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CI_DIR = ROOT / "examples" / "ci"
ACTION = ROOT / "action.yml"
AZURE_STEPS = ROOT / "ci" / "azure-pipelines" / "steps.yml"
GITLAB_COMPONENT = ROOT / "templates" / "baker.yml"
RUN_BAKER = ROOT / "ci" / "run-baker.sh"
ACTION_USES = "your-org/baker@v1"
ALTERNATIVE = "# client-secret alternative"
TEMPLATES = ("azure-pipelines.yml", "github-actions.yml", "gitlab-ci.yml")
EVENTS = ("push", "schedule")

# Each template's conditions, as written, and the events they let a step run on.
WHEN: dict[str, dict[str | None, set[str]]] = {
    "github-actions.yml": {
        None: {"push", "schedule"},
        "github.event_name == 'push'": {"push"},
        "github.event_name != 'push'": {"schedule"},
        "always()": {"push", "schedule"},
        # the deploy step: on either road, when baker's output says it baked
        "steps.bake.outputs.rebaked == 'true' || steps.rebake.outputs.rebaked == 'true'": {
            "push",
            "schedule",
        },
    },
    "azure-pipelines.yml": {
        None: {"push", "schedule"},
        "succeeded()": {"push", "schedule"},
        "and(succeeded(), ne(variables['Build.Reason'], 'Schedule'))": {"push"},
        "and(succeeded(), eq(variables['Build.Reason'], 'Schedule'))": {"schedule"},
        "always()": {"push", "schedule"},
        "or(eq(variables['bake.rebaked'], 'true'), eq(variables['rebake.rebaked'], 'true'))": {
            "push",
            "schedule",
        },
    },
    "gitlab-ci.yml": {
        '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH': {"push"},
        '$CI_PIPELINE_SOURCE == "schedule"': {"schedule"},
    },
}


@dataclass(frozen=True)
class Step:
    name: str
    script: str  # bash, CI expressions already filled
    env: Mapping[str, str]  # exactly what the template gives the step
    events: frozenset[str]
    argv: tuple[str, ...] = field(default=())  # the baker command line the step runs

    @property
    def command(self) -> str:
        return self.argv[0] if self.argv else ""


def template_text(template: str, variant: str) -> str:
    """The template as written (workload identity), or with its client-secret lines un-commented."""
    text = (CI_DIR / template).read_text(encoding="utf-8")
    if variant == "client-secret":
        text = "\n".join(
            re.sub(r"^(\s*)# ", r"\1", line) if line.rstrip().endswith(ALTERNATIVE) else line
            for line in text.splitlines()
        )
    return text


def run_baker_argv(env: Mapping[str, str]) -> tuple[str, ...]:
    """The baker command line ci/run-baker.sh builds from these inputs: the real script, with a
    stand-in `baker` on the PATH that prints its arguments."""
    with tempfile.TemporaryDirectory() as stub:
        baker = Path(stub) / "baker"
        baker.write_text('#!/bin/sh\nprintf "%s\\0" "$@" >&2\n')
        baker.chmod(0o755)
        result = subprocess.run(
            [str(RUN_BAKER)],
            env={**env, "PATH": f"{stub}:/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
    return tuple(result.stderr.split("\0")[:-1])


def _baker_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\s*baker\s", line)]


def _fill(text: str, pattern: str, lookup: Mapping[str, str]) -> str:
    """Every variable the CI system knows filled; one it does not know is left as written (Azure
    Pipelines keeps `$(unknown)`; an output variable of a step that did not run is such a one)."""
    for _ in range(5):  # a value may name another: $(REGISTRY)/app:baked
        text = re.sub(pattern, lambda m: lookup.get(m[1], m[0]), text)
    return text


def _action_env(mapping: Mapping[str, str], inputs: Mapping[str, str]) -> dict[str, str]:
    """action.yml's run step environment: each `${{ inputs.X }}` as GitHub fills it."""
    pattern = r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}"
    return {k: re.sub(pattern, lambda m: inputs[m[1]], str(v)) for k, v in mapping.items()}


# GitHub Actions -----------------------------------------------------------------------------------


def github(text: str, settings: Mapping[str, Mapping[str, str]]) -> list[Step]:
    doc: dict[str, Any] = yaml.safe_load(text)
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    run_step = next(s for s in action["runs"]["steps"] if s.get("id") == "baker")

    def fill(value: object, env: Mapping[str, str]) -> str:
        if isinstance(value, bool):  # YAML's true in `with:` reaches the action as "true"
            return str(value).lower()

        def one(match: re.Match[str]) -> str:
            context, _, name = match[1].partition(".")
            if context == "env":
                return env[name]
            if context not in ("vars", "secrets"):
                raise AssertionError(f"a baker step uses ${{{{ {match[1]} }}}}: map it in tests/ci_roads.py")
            return settings[context][name]

        return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", one, str(value))

    workflow_env = {k: fill(v, {}) for k, v in (doc.get("env") or {}).items()}
    if (doc.get("permissions") or {}).get("id-token") == "write":
        # The runner gives every step of such a job its OIDC request URL and token.
        workflow_env.update(settings.get("github_oidc", {}))
    steps: list[Step] = []
    for job in doc["jobs"].values():
        job_env = {**workflow_env, **{k: fill(v, workflow_env) for k, v in (job.get("env") or {}).items()}}
        for step in job["steps"]:
            env = {**job_env, **{k: fill(v, job_env) for k, v in (step.get("env") or {}).items()}}
            events = frozenset(WHEN["github-actions.yml"][step.get("if")])
            name = step.get("name", "")
            if step.get("uses") == ACTION_USES:
                inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
                inputs.update({k: fill(v, env) for k, v in (step.get("with") or {}).items()})
                step_env = {**env, **_action_env(run_step["env"], inputs), "GITHUB_ACTION_PATH": str(ROOT)}
                argv = run_baker_argv(step_env)
                steps.append(Step(name, shlex.quote(str(RUN_BAKER)), step_env, events, argv))
            for line in _baker_lines(str(step.get("run", ""))):
                filled = fill(line, env)
                steps.append(Step(name, filled, env, events, tuple(shlex.split(filled)[1:])))
    return steps


# Azure Pipelines ----------------------------------------------------------------------------------


def expand_azure_template(parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """ci/azure-pipelines/steps.yml expanded with `parameters` as Azure DevOps does: the template
    expressions it uses (`parameters.X`, `lower()`, `${{ if }}`, `${{ each pair in ... }}`)."""
    doc: dict[str, Any] = yaml.safe_load(AZURE_STEPS.read_text(encoding="utf-8"))
    values = {p["name"]: p.get("default") for p in doc["parameters"]}
    values.update(parameters)

    def expression(text: str) -> Any:
        text = text.strip()
        if m := re.fullmatch(r"parameters\.(\w+)", text):
            return values[m[1]]
        if m := re.fullmatch(r"lower\(parameters\.(\w+)\)", text):
            return str(values[m[1]]).lower()
        if m := re.fullmatch(r"join\('(.*)', parameters\.(\w+)\)", text):
            return m[1].join(str(v) for v in values[m[2]])
        raise AssertionError(f"template expression {text!r}: teach tests/ci_roads.py")

    def scalar(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if m := re.fullmatch(r"\$\{\{(.*)\}\}", value.strip()):
            return expression(m[1])
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(expression(m[1])), value)

    def mapping(node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if m := re.fullmatch(r"\$\{\{\s*each (\w+) in parameters\.(\w+)\s*\}\}", key):
                for item_key, item_value in (values[m[2]] or {}).items():
                    out[item_key] = scalar(item_value)
            else:
                out[key] = mapping(value) if isinstance(value, dict) else scalar(value)
        return out

    steps: list[dict[str, Any]] = []
    for entry in doc["steps"]:
        (key, value), *_ = entry.items()
        if m := re.fullmatch(r"\$\{\{\s*if parameters\.(\w+)\s*\}\}", key):
            if values[m[1]]:
                steps += [mapping(s) for s in value]
        else:
            steps.append(mapping(entry))
    return steps


def azure(text: str, settings: Mapping[str, Mapping[str, str]], workspace: Path) -> list[Step]:
    doc: dict[str, Any] = yaml.safe_load(text)
    variables: dict[str, str] = {}
    for entry in doc.get("variables") or []:
        if "group" in entry:
            assert entry["group"] == "baker"
            variables.update(settings["group"])
        else:
            variables[entry["name"]] = str(entry["value"])
    pipeline = {"Pipeline.Workspace": str(workspace.parent), "Agent.TempDirectory": str(workspace.parent)}
    macros = {**variables, **settings["group_secrets"], **settings["system"], **pipeline}

    def fill(value: object) -> str:
        return _fill(str(value), r"\$\(([\w.]+)\)", macros)

    # Non-secret variables reach every step's environment; secret ones only where `env:` maps them.
    # Predefined ones (SYSTEM_OIDCREQUESTURI) reach every step too; System.AccessToken only if mapped.
    base_env = {name: fill(value) for name, value in variables.items()}
    base_env.update(settings.get("pipelines_predefined", {}))
    steps: list[Step] = []
    for entry in doc["steps"]:
        expanded = (
            expand_azure_template(entry.get("parameters") or {})
            if entry.get("template") == "ci/azure-pipelines/steps.yml@baker"
            else [entry]
        )
        for step in expanded:
            env = {**base_env, **{k: fill(v) for k, v in (step.get("env") or {}).items()}}
            events = frozenset(WHEN["azure-pipelines.yml"][step.get("condition")])
            name = step.get("displayName", "")
            script = str(step.get("script", ""))
            if "ci/run-baker.sh" in script:  # the template's baker step, from this checkout
                steps.append(Step(name, shlex.quote(str(RUN_BAKER)), env, events, run_baker_argv(env)))
            for line in _baker_lines(script):
                filled = fill(line)
                steps.append(Step(name, filled, env, events, tuple(shlex.split(filled)[1:])))
    return steps


# GitLab -------------------------------------------------------------------------------------------


def gitlab(text: str, settings: Mapping[str, Mapping[str, str]]) -> list[Step]:
    doc: dict[str, Any] = yaml.safe_load(text)
    (include,) = doc["include"]
    assert include["component"].endswith("/your-org/baker/baker@1"), include
    spec_text, jobs_text = GITLAB_COMPONENT.read_text(encoding="utf-8").split("\n---\n", 1)
    spec = yaml.safe_load(spec_text)["spec"]["inputs"]
    inputs = {name: str(value.get("default", "")) for name, value in spec.items()}
    inputs.update({k: str(v) for k, v in (include.get("inputs") or {}).items()})
    jobs: dict[str, Any] = yaml.safe_load(
        re.sub(r"\$\[\[\s*inputs\.(\w+)\s*\]\]", lambda m: inputs[m[1]], jobs_text)
    )
    env = dict(settings["gitlab"])
    steps: list[Step] = []
    for name, job in jobs.items():
        if name.startswith(".") or "script" not in job:
            continue
        merged = {**jobs.get(job.get("extends", ""), {}), **job}
        job_env = dict(env)
        for variable, value in (merged.get("variables") or {}).items():
            job_env[variable] = _fill(str(value), r"\$\{?(\w+)\}?", job_env)
        for token_name, token_spec in (merged.get("id_tokens") or {}).items():
            # GitLab gives the job an OIDC token of that audience in that variable.
            job_env[token_name] = settings.get("gitlab_id_tokens", {}).get(token_spec["aud"], "")
        (rule,) = merged["rules"]
        events = frozenset(WHEN["gitlab-ci.yml"][rule["if"]])
        for line in _baker_lines("\n".join([*merged.get("before_script", []), *merged["script"]])):
            argv = tuple(_fill(a, r"\$\{?(\w+)\}?", job_env) for a in shlex.split(line)[1:])
            steps.append(Step(name, line, job_env, events, argv))
    return steps


def realize(
    template: str, variant: str, settings: Mapping[str, Mapping[str, str]], workspace: Path
) -> list[Step]:
    text = template_text(template, variant)
    if template == "github-actions.yml":
        return github(text, settings)
    if template == "azure-pipelines.yml":
        return azure(text, settings, workspace)
    return gitlab(text, settings)

"""The CI pipeline examples: valid YAML, every `baker` command line parses, no secret in them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from baker.cli import build_parser

CI_DIR = Path(__file__).resolve().parents[2] / "examples" / "ci"
FILES = sorted(CI_DIR.glob("*.yml"))
NAMES = [p.name for p in FILES]

# A `baker ...` command at the start of a shell line, after YAML's `- `, `run:` or `script:`.
COMMAND = re.compile(r"^\s*(?:-\s+)?(?:(?:run|script):\s*)?(baker\s.*)$")
SHELL_OPERATORS = re.compile(r"\s(?:\|\||&&|;|\|)\s")


def _commands(path: Path) -> list[list[str]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = COMMAND.match(line)
        if match:
            text = SHELL_OPERATORS.split(match.group(1))[0]
            found.append(shlex.split(text, comments=True))
    return found


def test_every_pipeline_the_readme_promises_exists() -> None:
    assert NAMES == ["azure-pipelines.yml", "github-actions.yml", "gitlab-ci.yml"]


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_pipeline_is_valid_yaml_mapping(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and document


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_every_baker_command_parses_with_the_real_cli_when_extracted(path: Path) -> None:
    commands = _commands(path)
    assert commands, "no baker command found"
    parser = build_parser()
    for argv in commands:
        assert argv[0] == "baker"
        try:
            parser.parse_args(argv[1:])
        except SystemExit as exc:  # argparse refuses unknown flags by exiting 2
            pytest.fail(f"{path.name}: {shlex.join(argv)!r} does not parse (exit {exc.code})")


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_pipeline_bakes_on_push_and_rebakes_when_stale(path: Path) -> None:
    commands = [argv[1:] for argv in _commands(path)]
    builds = [argv for argv in commands if argv[0] == "build"]
    assert any("--push" in argv and "--if-stale" not in argv for argv in builds)
    # The scheduled re-bake runs in the registry (no engine on the runner needed; every platform).
    assert any("--in-registry" in argv and "--if-stale" in argv for argv in builds)
    assert any(argv[0] == "check" for argv in commands)


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_pipeline_takes_the_client_secret_from_the_ci_secret_store_and_never_echoes_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "AZURE_CLIENT_SECRET" in text
    for line in text.splitlines():
        code = line.split(" #", 1)[0]
        assignment = re.match(r"\s*-?\s*AZURE_CLIENT_SECRET\s*[:=]\s*(\S.*)$", code)
        if assignment:
            # Only a reference into the CI system's secret store, never a literal.
            assert re.fullmatch(r"\$\{\{\s*secrets\.\w+\s*\}\}|\$\(\w+\)", assignment.group(1).strip()), line
        lowered = code.lower()
        assert not re.search(r"\b(echo|printf|cat)\b[^|]*\$\{?azure_client_secret", lowered), line
        assert "set -x" not in lowered and "--password " not in lowered and " -p " not in lowered, line


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_pipeline_holds_no_secret_literal(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for canary in ("demo-client-secret", "sk-demo", "hunter2", "BEGIN DEMO KEY"):
        assert canary not in text
    # Nothing that looks like an Entra client secret value (e.g. `abc8Q~...`) or a base64 blob.
    assert not re.search(r"[A-Za-z0-9_.-]{3}\dQ~[A-Za-z0-9_.~-]{20,}", text)
    assert not re.search(r"[A-Za-z0-9+/]{40,}={0,2}", text)

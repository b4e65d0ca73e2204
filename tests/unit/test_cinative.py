"""baker in the CI runner's language (baker.cinative): the runners' own escaping rules, annotations
on the manifest's file and line, step outputs, the step summary, the JUnit report; and that no text
from outside (a hostile manifest key, a registry's words, a label) ever becomes a runner command."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from baker.cinative import (
    CI,
    azure_escape,
    detect,
    github_data,
    github_property,
)
from baker.cli import main
from baker.commands.check import check
from baker.output import Output, RunnerCommand
from tests.unit.test_commands_check_connection_secrets import (  # noqa: F401 - the fixture
    V2,
    VALUE_CANARY,
    _baked,
    _healthy,
    _opener,
    _props,
    manifest_file,
)

HOSTILE = "X\n::warning::y"
GITHUB = {"GITHUB_ACTIONS": "true"}
AZURE = {"TF_BUILD": "True"}


def _unescape_github(text: str) -> str:
    """What the GitHub runner reads back (actions/runner's ActionCommand unescape)."""
    for token, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(token, char)
    return text


def _unescape_azure(text: str) -> str:
    """What the Azure Pipelines agent reads back (CommandStringConvertor.Unescape, percents on)."""
    for token, char in (("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%AZP25", "%")):
        text = text.replace(token, char)
    return text


# --- the runners' rules, exactly -------------------------------------------------------------------


def test_github_escaping_is_the_toolkits() -> None:
    assert github_data("50% a\r\nb: c, d") == "50%25 a%0D%0Ab: c, d"
    assert github_property("50% a\r\nb: c, d") == "50%25 a%0D%0Ab%3A c%2C d"
    for text in ("%0A", "a%25b", "::x::", "a,b:c\n", HOSTILE):
        assert _unescape_github(github_property(text)) == text
        assert _unescape_github(github_data(text)) == text


def test_azure_escaping_is_the_agents() -> None:
    assert azure_escape("50%; a]\r\nb") == "50%AZP25%3B a%5D%0D%0Ab"
    for text in ("%3B", "a;b]c", "%AZP25", HOSTILE):
        assert _unescape_azure(azure_escape(text)) == text
    assert _unescape_azure(azure_escape("##vso[task.complete]")) == "\\x23#vso[task.complete]"


def test_other_control_characters_are_shown_not_sent() -> None:
    assert github_data("a\x1b[31mb\u202e") == "a\\x1b[31mb\\u202e"
    assert azure_escape("a\x07b") == "a\\x07b"


def test_runner_is_detected_from_the_variables_each_sets() -> None:
    assert detect(GITHUB) == "github" and detect(AZURE) == "azure" and detect({"TF_BUILD": "true"}) == "azure"
    assert detect({}) is None and detect({"GITHUB_ACTIONS": "1"}) is None


def test_a_runner_command_is_one_escaped_line_or_refused() -> None:
    for bad in ("::error::a\nb", "echo ::error::x", "##vso[task.logissue]a\r", "::error::\x1b"):
        with pytest.raises(ValueError):
            RunnerCommand(bad)


# --- annotations on the manifest's line ------------------------------------------------------------


def _validate(tmp_path: Path, text: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("GITHUB_ACTIONS", "TF_BUILD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "baker.yaml"
    path.write_text(text, encoding="utf-8")
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    assert main(["validate", "-f", str(path)]) == 2
    return stderr.getvalue()


BAD_LINE_5 = "version: 1\nimage:\n  from: busybox:1.36\nenv:\n  LOG_LEVL: {secrett: x}\n"


def test_github_annotation_names_the_file_and_the_line_of_a_manifest_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _validate(tmp_path, BAD_LINE_5, GITHUB, monkeypatch)
    commands = [line for line in err.splitlines() if line.startswith("::")]
    assert commands, err
    file = github_property(str(tmp_path / "baker.yaml"))
    assert all(c.startswith(f"::error file={file},line=5,title=baker::") for c in commands), commands


def test_azure_logissue_names_the_file_and_the_line_of_a_manifest_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _validate(tmp_path, BAD_LINE_5, AZURE, monkeypatch)
    commands = [line for line in err.splitlines() if "##vso[" in line]
    assert commands, err
    file = azure_escape(str(tmp_path / "baker.yaml"))
    prefix = f"##vso[task.logissue type=error;sourcepath={file};linenumber=5]"
    assert all(c.startswith(prefix) for c in commands), commands


def test_no_ci_writes_no_runner_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "baker.yaml"
    path.write_text(BAD_LINE_5, encoding="utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    assert main(["validate", "-f", str(path), "--no-ci"]) == 2
    assert "line 5" in stderr.getvalue() or ":5:" in stderr.getvalue()
    assert not any(line.startswith("::") for line in stderr.getvalue().splitlines())


@pytest.mark.parametrize("env", [GITHUB, AZURE], ids=["github", "azure"])
def test_a_hostile_manifest_key_never_becomes_a_runner_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    # An env key holding a line break then a workflow command, and one holding a logging command.
    text = (
        'version: 1\nimage:\n  from: busybox:1.36\nenv:\n  "X\\n::warning::y": a\n'
        '  "Z;]\\r\\n##vso[task.setvariable variable=PWNED]1": b\n'
    )
    err = _validate(tmp_path, text, env, monkeypatch)
    lines = err.splitlines()
    assert not any(line.lstrip().startswith("::warning") for line in lines), err
    # Azure runs `##vso[` anywhere in a line: only baker's own commands hold it (the printed error
    # shows the key with its `#` escaped); GitHub runs `::` at a line's start: only baker's own.
    commands = [line for line in lines if line.lstrip().startswith("::") or "##vso[" in line.lower()]
    assert len(commands) == 2, err  # one per problem, each one line
    for line in commands:
        if env is GITHUB:
            assert re.fullmatch(r"::error file=[^:\n]*,line=[56],title=baker::[^\n]*", line), line
            shown = _unescape_github(line)  # the key, as text inside the message
            assert "::warning::y" in shown or "PWNED" in shown
        else:
            assert line.startswith("##vso[task.logissue type=error;sourcepath=") and line.count("##vso[") == 1
            assert "##vso[task.setvariable" not in line[6:]  # no second command on the line
            assert line.count("]") == 1  # the command's own; the key's is %5D


# --- check: step output, summary, JUnit ---------------------------------------------------------


def _ci_out(env: dict[str, str]) -> tuple[Output, io.StringIO]:
    stderr = io.StringIO()
    return Output(stdout=io.StringIO(), stderr=stderr, ci=CI.detect(env)), stderr


def _outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: `name<<DELIM` ... `DELIM` blocks."""
    found: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    index = 0
    while index < len(lines) - 1:
        name, delimiter = lines[index].split("<<", 1)
        end = lines.index(delimiter, index + 1)
        found[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    return found


def test_check_writes_stale_and_a_summary_table_without_values_under_github(
    manifest_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    providers = _healthy()
    providers["prod"].versions["api-key"].append(_props("api-key", V2))
    output, summary = tmp_path / "output", tmp_path / "summary"
    out, _ = _ci_out({**GITHUB, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)})
    assert (
        check(out=out, file=manifest_file, image="x", open_provider=_opener(providers), baked=_baked()) == 3
    )
    assert _outputs(output) == {"stale": "true"}
    table = summary.read_text(encoding="utf-8")
    assert "| API_KEY | rotated |" in table and V2 in table and "re-bake due" in table
    assert VALUE_CANARY not in table and "info" not in table.split("|---|")[1]  # no literal's value either


def test_check_sets_azure_output_variables(
    manifest_file: Path,  # noqa: F811
) -> None:
    out, stderr = _ci_out(AZURE)
    assert (
        check(out=out, file=manifest_file, image="x", open_provider=_opener(_healthy()), baked=_baked()) == 0
    )
    assert "##vso[task.setvariable variable=stale;isOutput=true]false" in stderr.getvalue().splitlines()


def test_summary_cells_show_hostile_label_text_as_text(
    manifest_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    summary = tmp_path / "summary"
    out, _ = _ci_out({**GITHUB, "GITHUB_STEP_SUMMARY": str(summary)})
    baked = _baked(API_KEY="v|<img src=x>[link](http://e)\n# H")
    check(out=out, file=manifest_file, image="x", open_provider=_opener(_healthy()), baked=baked)
    table = summary.read_text(encoding="utf-8")
    row = next(line for line in table.splitlines() if line.startswith("| API_KEY"))
    assert row.count(" | ") == 3  # the `|` in the label did not add a column
    assert "<img" not in table and "](http" not in table and "\n# H" not in table


def test_junit_has_one_case_per_variable_and_one_failure_per_stale_one(
    manifest_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    providers = _healthy()
    providers["prod"].versions["api-key"].append(_props("api-key", V2))
    providers["shared"].versions["db"].append(_props("db", V2))
    report = tmp_path / "reports" / "baker.xml"
    out, _ = _ci_out({})
    code = check(
        out=out, file=manifest_file, image="x", open_provider=_opener(providers), baked=_baked(), junit=report
    )
    assert code == 3
    root = ET.parse(report).getroot()  # noqa: S314 - our own file
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"LOG_LEVEL", "API_KEY", "DB_USER", "LEGACY"}
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == {"API_KEY", "DB_USER"}
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    assert cases["API_KEY"].find("failure").get("type") == "rotated"  # type: ignore[union-attr]
    assert VALUE_CANARY not in report.read_text(encoding="utf-8")


def test_junit_with_label_text_xml_cannot_hold_is_still_well_formed(
    manifest_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    providers = _healthy()
    providers["prod"].versions["api-key"].append(_props("api-key", V2))
    report = tmp_path / "baker.xml"
    out, _ = _ci_out({})
    baked = _baked(API_KEY="v\ufffe\uffff\x00")  # noncharacters XML 1.0 forbids, from the label
    check(out=out, file=manifest_file, image="x", open_provider=_opener(providers), baked=baked, junit=report)
    root = ET.parse(report).getroot()  # noqa: S314 - our own file
    failure = next(c for c in root.iter("testcase") if c.get("name") == "API_KEY").find("failure")
    assert failure is not None and "\\ufffe\\uffff\\x00" in (failure.text or "")


@pytest.mark.parametrize("env", [GITHUB, AZURE], ids=["github", "azure"])
def test_registry_text_in_a_failure_is_one_escaped_annotation(env: dict[str, str]) -> None:
    from baker.cinative import announce_error
    from baker.errors import ImageNotFound

    out, stderr = _ci_out(env)
    announce_error(
        out, ImageNotFound("registry said: nope\r\n::warning::y\n##vso[task.complete result=Failed]")
    )
    (line,) = stderr.getvalue().splitlines()
    assert line.startswith("::error title=baker::" if env is GITHUB else "##vso[task.logissue type=error]")
    assert line.count("##vso[") <= 1 and "\n" not in line

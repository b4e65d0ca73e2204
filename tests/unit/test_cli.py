"""The CLI's one error handler: exit codes, one-line messages with hints, and no value in anything
it prints, whatever the failure."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, NoReturn

import pytest

from baker import cli
from baker.errors import EngineError
from baker.secret import REDACTOR, Secret

CANARY = "cli-canary-value-5e1f"


def _command(monkeypatch: pytest.MonkeyPatch, behaviour: Any) -> None:
    """Route `baker validate` to a stand-in command (the seam is the command module)."""
    module = types.ModuleType("baker.commands.standin")
    module.validate = behaviour  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "baker.commands.standin", module)
    monkeypatch.setitem(cli.COMMANDS, "validate", ("standin", "validate"))


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(**kwargs: Any) -> NoReturn:
        raise KeyboardInterrupt

    _command(monkeypatch, interrupted)
    assert cli.main(["validate"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_stop_before_the_command_wrote_its_document_writes_the_stop_document_with_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # rt6-3: a stop while a manifest loads or `--if-stale` checks, before any bake: one document.
    def interrupted(**kwargs: Any) -> NoReturn:
        raise KeyboardInterrupt

    _command(monkeypatch, interrupted)
    assert cli.main(["validate", "--json"]) == 130
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [cli.STOPPED]


def test_a_stop_after_the_command_wrote_its_document_writes_no_second_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def reported(*, out: Any, **kwargs: Any) -> NoReturn:
        out.result({"error": "Interrupted", "message": "stopped: no tag moved", "left": ["x"]})
        raise KeyboardInterrupt

    _command(monkeypatch, reported)
    assert cli.main(["validate", "--json"]) == 130
    (document,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert document["left"] == ["x"]


def test_the_entry_points_stop_document_is_the_clis() -> None:
    # `python -m baker` writes it for a stop while the CLI itself loads (no import to wait for).
    from baker import __main__ as entry

    assert json.loads(entry.STOPPED) == cli.STOPPED


def test_baker_error_exits_with_its_code_and_prints_message_and_hint_without_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    REDACTOR.register(Secret(CANARY))

    def fails(**kwargs: Any) -> NoReturn:
        raise EngineError(f"engine said {CANARY}", hint="start Docker")

    _command(monkeypatch, fails)
    assert cli.main(["validate"]) == 1
    err = capsys.readouterr().err
    assert "error: engine said ********" in err and "hint: start Docker" in err
    assert CANARY not in err


def test_json_mode_puts_the_error_document_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(**kwargs: Any) -> NoReturn:
        raise EngineError("no engine", hint="start Docker")

    _command(monkeypatch, fails)
    assert cli.main(["validate", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document == {"error": "EngineError", "message": "no engine", "hint": "start Docker"}


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_exits_1_with_a_pointer_to_debug_and_never_shows_the_value(
    debug: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    REDACTOR.register(Secret(CANARY))

    def buggy(**kwargs: Any) -> NoReturn:
        raise RuntimeError(f"unexpected {CANARY}")

    _command(monkeypatch, buggy)
    assert cli.main(["validate", *(["--debug"] if debug else [])]) == 1
    err = capsys.readouterr().err
    assert "internal error (RuntimeError)" in err
    assert ("Traceback" in err) is debug
    assert CANARY not in err


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["render"]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err


def test_options_may_come_before_or_after_the_command(tmp_path: Path) -> None:
    parser = cli.build_parser()
    before = parser.parse_args(["--json", "-f", str(tmp_path), "plan"])
    after = parser.parse_args(["plan", "--json", "-f", str(tmp_path)])
    assert before.json and after.json and before.file == after.file == tmp_path


COMMAND_LINES = {
    "validate": ["validate"],
    "plan": ["plan"],
    "render": ["render", "--out", "x"],
    "build": ["build", "--tag", "a:1", "--tag", "b:2", "--push", "--if-stale"],
    "check": ["check", "--image", "a:1"],
    "test-connection": ["test-connection", "prod"],
    "secrets list": ["secrets", "list", "prod", "--prefix", "db"],
    "emulator": ["emulator", "--world", "w.yaml", "--port", "0", "--host", "127.0.0.1"],
    "find": ["find", "--secret", "db-password@" + "a" * 32, "registry.example.com/app"],
}
NO_MANIFEST = {"emulator", "find"}
MANY_MANIFESTS = {"build", "check"}  # -f repeatable (or a directory)


@pytest.mark.parametrize("name", sorted(COMMAND_LINES))
def test_every_command_takes_json_and_debug_and_every_manifest_command_takes_file(name: str) -> None:
    line = COMMAND_LINES[name]
    extra = ["--json", "--debug"] + ([] if name in NO_MANIFEST else ["-f", "m.yaml"])
    args = cli.build_parser().parse_args([*line, *extra])
    assert args.json is True and args.debug is True
    if name not in NO_MANIFEST:
        assert args.file == ([Path("m.yaml")] if name in MANY_MANIFESTS else Path("m.yaml"))


@pytest.mark.parametrize("name", sorted(COMMAND_LINES))
def test_bad_usage_exits_2_with_a_json_error_on_every_command(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*COMMAND_LINES[name], "--no-such-flag", "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "error": "UsageError",
        "message": captured.err.splitlines()[-1],
    }
    assert "unrecognized arguments: --no-such-flag" in captured.err


def test_repeated_tags_are_all_kept_in_order() -> None:
    args = cli.build_parser().parse_args(["build", "--tag", "a:1", "--tag", "b:2"])
    assert args.tag == ["a:1", "b:2"]


def test_unrecognized_arguments_are_counted_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["build", "--json", "--tg", "pasted-secret-value-x", "another-one"]) == 2
    captured = capsys.readouterr()
    assert "pasted-secret-value-x" not in captured.out + captured.err
    assert "another-one" not in captured.out + captured.err
    assert "unrecognized arguments: --tg and 2 more arguments" in json.loads(captured.out)["message"]


def _parsers(parser: cli._Parser) -> cli._Parsers:
    (sub,) = [a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction)]
    assert isinstance(sub.choices, cli._Parsers)
    return sub.choices


def _commands(parser: cli._Parser) -> dict[str, Any]:
    parsers = _parsers(parser)
    return {name: parsers[name] for name in parsers}


def test_a_command_s_own_options_are_added_only_when_it_is_chosen() -> None:
    """Issue 17 (process start): `plan` builds no other command's options; a chosen one has all of
    its own, its parents' first, as an eager build ordered them."""
    parser = cli.build_parser()
    parser.parse_args(["plan", "-f", "x"])
    assert _parsers(parser).made() == {"plan"}  # no other command's parser is even made
    unbuilt = {name for name, command in _commands(parser).items() if command._fill is not None}
    assert unbuilt == {"render", "build", "check", "test-connection", "secrets", "run", "find", "emulator"}
    args = parser.parse_args(["build", "-f", "a", "-f", "b", "--tag", "t:1", "--in-registry"])
    assert (args.file, args.tag, args.in_registry) == ([Path("a"), Path("b")], ["t:1"], True)
    options = [a.option_strings[-1] for a in _commands(parser)["build"]._actions if a.option_strings]
    assert options[:6] == ["--help", "--file", "--json", "--debug", "--no-ci", "--tag"]


@pytest.mark.parametrize("command", ["render", "build", "check", "secrets", "run", "find", "emulator"])
def test_a_command_s_help_and_usage_are_whole_however_reached(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    by_parse = cli.build_parser()
    with pytest.raises(SystemExit):
        by_parse.parse_args([command, "--help"])
    shown = capsys.readouterr().out
    assert _commands(cli.build_parser())[command].format_help() == shown
    assert shown.startswith(_commands(cli.build_parser())[command].format_usage().rstrip("\n"))
    assert "--json" in shown and "-h, --help" in shown

"""A word pasted on the command line by mistake (a secret where a command, a subcommand or an
option's value was meant) is never echoed back by argparse's usage errors."""

from __future__ import annotations

import json

import pytest

from baker import cli

PASTED = "Qz8Q~Pasted.Secret_7Xw-Vk2"


@pytest.mark.parametrize(
    "argv",
    [
        [PASTED],
        ["secrets", PASTED],
        ["emulator", "--port", PASTED],
        [f"--js={PASTED}", "validate"],
        ["emulator", f"--h={PASTED}"],
    ],
    ids=["command", "subcommand", "int-option", "flag-given-a-value", "ambiguous-prefix"],
)
@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
def test_a_pasted_word_is_not_echoed_in_a_usage_error(
    argv: list[str], json_mode: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*argv, *(["--json"] if json_mode else [])]) == 2
    captured = capsys.readouterr()
    text = captured.out + captured.err
    for form in (PASTED, PASTED.lower(), repr(PASTED)):
        assert form not in text
    assert "error:" in captured.err
    if json_mode:
        assert json.loads(captured.out)["error"] == "UsageError"


def test_an_invalid_command_still_lists_the_commands_and_suggests_the_close_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["biuld"]) == 2
    err = capsys.readouterr().err
    assert "biuld" not in err
    assert "invalid choice" in err and "'validate'" in err
    assert "did you mean 'build'?" in err


def test_an_invalid_option_value_names_the_option_and_the_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulator", "--port", "eighty"]) == 2
    err = capsys.readouterr().err
    assert "argument --port: invalid int value" in err
    assert "eighty" not in err

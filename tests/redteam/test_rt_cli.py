"""Red-team reproductions for issue 9 F (a pasted secret echoed by a usage error): the
unrecognized-argument rewrite keeps every word that starts with `-` as "a flag", so a secret that
starts with `-` (Entra client secrets are drawn from `[A-Za-z0-9~._-]`), or a short-option cluster,
is echoed whole, in human output and in the --json document.

Fixed: only words shaped like an option name are shown; the rest are counted."""

from __future__ import annotations

import pytest

from baker import cli

PASTED = "-Qz8Q~Pasted.Secret_7Xw-Vk2"


@pytest.mark.parametrize(
    "argv",
    [["build", PASTED], ["build", "-" + PASTED], ["validate", "--tag", "x", PASTED]],
    ids=["dash", "double-dash", "after-an-unknown-option"],
)
@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
def test_a_pasted_secret_starting_with_a_dash_is_not_echoed(
    argv: list[str], json_mode: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*argv, *(["--json"] if json_mode else [])]) == 2
    captured = capsys.readouterr()
    assert PASTED.lstrip("-") not in captured.out + captured.err

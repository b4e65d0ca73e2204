"""The README says what the code does: its troubleshooting table is the code's own, its quick start
is exactly two commands, and the commands it lists exist."""

from __future__ import annotations

import re
from pathlib import Path

from baker.cli import build_parser
from baker.diagnose import markdown_table

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _between(start: str, end: str) -> str:
    return README.split(start, 1)[1].split(end, 1)[0]


def test_troubleshooting_table_is_generated_from_the_diagnosis_table() -> None:
    assert _between("<!-- DIAGNOSES-START -->\n", "<!-- DIAGNOSES-END -->") == markdown_table()


def test_quick_start_is_exactly_two_commands() -> None:
    section = _between("## Quick start", "\n## ")
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    assert block.group(1).split("\n")[:-1] == ["make demo", "make test"]


def test_every_command_in_the_commands_table_parses() -> None:
    section = _between("## Commands", "\n## ")
    rows = re.findall(r"^\| `baker ([^`]+)` \|", section, re.M)
    assert len(rows) == 12
    parser = build_parser()
    for row in rows:
        row = row.replace("REPO", "registry.example.com/app")
        words = [w for w in re.sub(r"\[|\]", "", row).split() if w.isupper() is False]
        args = [w for w in words if w not in {"CREDENTIAL", "DIR", "REF", "T", "P", "FILE", "N", "S"}]
        fillers = {
            "--out": "x",
            "--image": "x",
            "--tag": "x",
            "--prefix": "x",
            "--world": "x",
            "--port": "1",
            "--timeout": "60",
            "-f": "x",
            "--secret": "x",
            "--source": "registry",
            "--junit": "x",
        }
        argv: list[str] = []
        for word in args:
            argv.append(word)
            if word in fillers:
                argv.append(fillers[word])
        assert parser.parse_args(argv).command == argv[0]

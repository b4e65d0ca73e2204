"""Everything baker prints goes through an `Output`, which passes it through the Redactor.

Human text goes to stdout (results) and stderr (progress, warnings); with `--json` stdout holds
exactly one JSON document and all prose goes to stderr.

Text that comes from an image, a registry or Key Vault (label contents, names, URLs, content types,
Azure's messages) may be hostile: a newline then `::error::...` is a GitHub Actions workflow
command, an ESC sequence drives the terminal, a lone surrogate cannot be encoded.  `untrusted()`
escapes such text where it is put into a line; every line written also passes `terminal_safe`
(control characters but the line breaks baker wrote, lone surrogates, bidi overrides, and a line
that would start a workflow command), and the JSON document escapes the same characters.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

from baker.record import Record, field
from baker.secret import REDACTOR, Redactor, scrub

if TYPE_CHECKING:  # a type only: cinative imports this module
    from collections.abc import Iterable

    from baker.cinative import CI

# Control characters (C0, DEL, C1), lone surrogates, line and paragraph separators, and the bidi
# controls that reorder what a terminal shows.
_OTHER_UNSAFE = r"\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(rf"[\x00-\x1f{_OTHER_UNSAFE}]")
_UNSAFE_IN_LINE_RE = re.compile(rf"[\x00-\x08\x0b-\x1f{_OTHER_UNSAFE}]")  # \t and \n kept
# A workflow command is a line starting `::` after the runner's .NET `TrimStart()` (actions/runner
# ActionCommand.TryParseV2), which trims any Unicode space (NBSP, U+3000, ...): `[^\S\n]` is each.
_COMMAND_RE = re.compile(r"^([^\S\n]*):(?=:)", re.MULTILINE)
# Azure Pipelines runs `##vso[...]` (and formats `##[...]`) found ANYWHERE in a line
# (azure-pipelines-agent's Command.TryParse: `IndexOf("##vso[")`): the first `#` is escaped.
_VSO_RE = re.compile(r"#(?=#(?:vso)?\[)", re.IGNORECASE)


def _escape(char: str) -> str:
    """The character as Python writes it in a string literal: `\\n`, `\\x1b`, `\\udc80`."""
    code = ord(char)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def untrusted(text: str) -> str:
    """`text` from an image, a registry or Key Vault, fit to stand in a line: every control
    character (line breaks and ESC included), lone surrogate and bidi control shown as its escape,
    a leading `::` (a GitHub Actions workflow command) broken as `\\x3a:`, and `##vso[` / `##[` (an
    Azure Pipelines logging command, anywhere in a line) broken as `\\x23#vso[`."""
    text = _COMMAND_RE.sub(r"\1\\x3a", _UNSAFE_RE.sub(lambda m: _escape(m.group(0)), text))
    return _VSO_RE.sub(r"\\x23", text)


def terminal_safe(text: str) -> str:
    """A text baker writes, made safe whatever it quotes: its own line breaks and tabs kept,
    every other unsafe character escaped, and no line left that starts a workflow command."""
    text = _UNSAFE_IN_LINE_RE.sub(lambda m: _escape(m.group(0)), text)
    return _VSO_RE.sub(r"\\x23", _COMMAND_RE.sub(r"\1\\x3a", text))


def _json_safe(text: str) -> str:
    """JSON text with the unsafe characters json.dumps(ensure_ascii=False) leaves raw written as
    `\\uXXXX` escapes: the same document, printable, and encodable even with a lone surrogate; an
    Azure Pipelines logging command's `##` written `#\\u0023` (the agent reads JSON lines too)."""
    text = _UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
    return _VSO_RE.sub(r"\\u0023", text)


# A runner command baker means to write: `::name props::data` or `##vso[area.action props]data`, one
# line, no control character (baker.cinative escapes every part by the runner's own rules).
_RUNNER_LINE_RE = re.compile(
    r"(?:::[a-z-]+(?: [^\r\n:]*)?::|##vso\[[a-z]+\.[a-z]+(?: [^\]\r\n]*)?\])[^\r\n]*"
)


class RunnerCommand(Record):
    """One command for the CI runner, built by `baker.cinative` only, from escaped parts: the one
    kind of line `Output` writes that may start a workflow or logging command."""

    line: str

    def __post_init__(self) -> None:
        if not _RUNNER_LINE_RE.fullmatch(self.line) or _UNSAFE_RE.search(self.line):
            raise ValueError("not one escaped runner command")


class Output(Record, frozen=False):
    json_mode: bool = False
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    redactor: Redactor = field(default_factory=lambda: REDACTOR)
    ci: CI | None = None  # the CI runner to speak to (baker.cinative), None off a runner or with --no-ci
    wrote_result: bool = False  # the one JSON document was written (`result`)

    def _line(self, text: str) -> str:
        """`text` as every line baker writes for people: values masked, then made terminal-safe."""
        return terminal_safe(self.redactor.redact(text)) + "\n"

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(self._line(text))
        stream.flush()

    def info(self, text: str) -> None:
        """A result line for people: stdout, or stderr in JSON mode."""
        self._write(self.stderr if self.json_mode else self.stdout, text)

    def table(self, lines: Iterable[str]) -> None:
        """Result lines for people (a table), each guarded as `info`'s, written with one flush: a
        flush per line woke whoever reads the pipe 400 times for `plan` on 400 variables."""
        stream = self.stderr if self.json_mode else self.stdout
        stream.write("".join(self._line(line) for line in lines))
        stream.flush()

    def progress(self, text: str) -> None:
        """Progress a person watches (build output): always stderr."""
        self._write(self.stderr, text)

    def warn(self, text: str) -> None:
        self._write(self.stderr, f"warning: {text}")

    def error(self, message: str, hint: str | None = None) -> None:
        """A failure and its fix, for people: `error:` and `hint:` lines on stderr (masked: values,
        token shapes, a build request's query).  The one place baker prints them."""
        self._write(self.stderr, scrub(f"error: {message}", self.redactor))
        if hint:
            self._write(self.stderr, scrub(f"hint: {hint}", self.redactor))

    def command(self, command: RunnerCommand) -> None:
        """A runner command (stderr, so a `--json` stdout stays one document).  Not `terminal_safe`:
        the command is meant, and `RunnerCommand` holds one line of escaped parts only."""
        self.stderr.write(self.redactor.redact(command.line) + "\n")
        self.stderr.flush()

    def result(self, document: Any) -> None:
        """The one JSON document of a `--json` run (ignored in human mode).

        Redaction walks the document and masks string leaves only, so a short registered value such
        as `5432` or `true` can never corrupt the JSON syntax or its numbers.
        """
        if self.json_mode:
            text = json.dumps(self._redact_tree(document), ensure_ascii=False, default=self._masked_str)
            self.wrote_result = True
            self.stdout.write(_json_safe(text) + "\n")
            self.stdout.flush()

    def _masked_str(self, value: object) -> str:
        return self.redactor.redact(str(value))

    def _redact_tree(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.redactor.redact(node)
        if isinstance(node, dict):
            return {self.redactor.redact(str(k)): self._redact_tree(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [self._redact_tree(v) for v in node]
        return node

from __future__ import annotations

import io
import json

import pytest

from baker.output import Output, untrusted
from baker.secret import Redactor, Secret


def _output(redactor: Redactor) -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    return Output(json_mode=True, stdout=stdout, stderr=stderr, redactor=redactor), stdout, stderr


def test_json_result_masks_string_leaves_but_keeps_numbers_and_literals_intact() -> None:
    redactor = Redactor()
    redactor.register(Secret("5432"))
    redactor.register(Secret("true"))
    out, stdout, _ = _output(redactor)
    out.result({"port": 5432, "ok": True, "note": "port 5432 is true", "list": ["5432", 1]})
    document = json.loads(stdout.getvalue())
    assert document["port"] == 5432
    assert document["ok"] is True
    assert "5432" not in document["note"]
    assert document["list"] == ["********", 1]


def test_info_goes_to_stderr_in_json_mode_and_is_redacted() -> None:
    redactor = Redactor()
    redactor.register(Secret("canary-value-xyz"))
    out, stdout, stderr = _output(redactor)
    out.info("found canary-value-xyz")
    assert stdout.getvalue() == ""
    assert "canary-value-xyz" not in stderr.getvalue()


# --- text from an image, a registry or Key Vault: printed escaped --------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain-name", "plain-name"),
        ("ünï©ødé 😀", "ünï©ødé 😀"),
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("tab\there", "tab\\there"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("c1\x9b31m", "c1\\x9b31m"),
        ("del\x7f", "del\\x7f"),
        ("lone\udc80", "lone\\udc80"),
        ("line\u2028sep", "line\\u2028sep"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("x\n::error::pwned", "x\\n::error::pwned"),
        ("::add-mask::x", "\\x3a:add-mask::x"),
        ("  ::warning::x", "  \\x3a:warning::x"),
    ],
)
def test_untrusted_text_is_escaped_visibly(text: str, shown: str) -> None:
    assert untrusted(text) == shown


def test_a_printed_line_never_carries_a_workflow_command_or_a_control_character() -> None:
    out, _, stderr = _output(Redactor())
    out.progress("error: Azure said: boom\n::add-mask::x\n  ::error::y\x1b]0;title\x07 and \udc80")
    text = stderr.getvalue()
    assert not any(line.lstrip().startswith("::") for line in text.splitlines())
    assert "\x1b" not in text and "\x07" not in text and "\udc80" not in text
    assert "boom\n" in text  # baker's own line breaks stay


# The GitHub runner reads a line as a workflow command after .NET's `TrimStart()` (actions/runner
# ActionCommand.TryParseV2), which trims every Unicode space, not only blanks and tabs.
@pytest.mark.parametrize("space", ["\u00a0", "\u1680", "\u2003", "\u200a", "\u202f", "\u205f", "\u3000"])
def test_a_workflow_command_behind_a_unicode_space_is_broken_too(space: str) -> None:
    text = f"{space}::add-mask::x\n{space}{space} ::error::y"
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout=stdout, stderr=stderr, redactor=Redactor())
    out.info(untrusted(text))
    out.warn(text)  # even text baker forgot to mark untrusted
    printed = stdout.getvalue() + stderr.getvalue()
    assert not any(line.lstrip().startswith("::") for line in printed.splitlines())
    assert not untrusted(text).lstrip().startswith("::")


def test_a_json_result_with_lone_surrogates_and_c1_controls_is_valid_printable_json() -> None:
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # strict, like a real stdout
    out = Output(json_mode=True, stdout=stdout, stderr=io.StringIO(), redactor=Redactor())
    out.result({"content_type": "a\udc80b\x9b\u2028c", "name": "\x1b[2J"})
    stdout.seek(0)
    raw = stdout.buffer.read().decode("utf-8")
    assert "\x9b" not in raw and "\x1b" not in raw and "\u2028" not in raw
    document = json.loads(raw)
    assert document == {"content_type": "a\udc80b\x9b\u2028c", "name": "\x1b[2J"}


@pytest.mark.parametrize(
    "text", ["text/plain ##vso[task.setvariable variable=X]1", "a ##[error]b", "##VSO[task.complete]"]
)
def test_an_azure_pipelines_logging_command_is_broken_wherever_it_stands(text: str) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout=stdout, stderr=stderr, redactor=Redactor())
    out.info(f"content type: {untrusted(text)}")
    out.warn(text)  # even text baker forgot to mark untrusted
    printed = stdout.getvalue() + stderr.getvalue()
    assert "##" not in printed
    assert "\\x23#" in printed


def test_a_json_result_never_carries_an_azure_pipelines_logging_command() -> None:
    stdout = io.StringIO()
    out = Output(json_mode=True, stdout=stdout, stderr=io.StringIO(), redactor=Redactor())
    out.result({"content_type": "x ##vso[task.setvariable variable=X]1"})
    assert "##" not in stdout.getvalue()
    assert json.loads(stdout.getvalue()) == {"content_type": "x ##vso[task.setvariable variable=X]1"}

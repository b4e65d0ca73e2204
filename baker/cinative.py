"""baker in the CI runner's own language: GitHub Actions workflow commands and files, Azure Pipelines
logging commands, and a JUnit report for GitLab's and Azure's test tabs.

Under GitHub Actions (`GITHUB_ACTIONS=true`): a manifest problem is `::error file=F,line=L::message`,
`build` writes `digest`, `tags`, `rebaked` to `$GITHUB_OUTPUT` (and `check` writes `stale`), `check` a
Markdown table (statuses and versions, never a value) to `$GITHUB_STEP_SUMMARY`.  Under Azure
Pipelines (`TF_BUILD=True`): `##vso[task.logissue type=error;sourcepath=F;linenumber=L]message` and
`##vso[task.setvariable variable=N;isOutput=true]value`.  `--no-ci` turns it all off.

Every piece of text in a command is escaped by that runner's own rules, so no text from outside (a
manifest key, a registry's words, a label) can end the command or start another:
- GitHub (`@actions/core` command.ts): data `%`→`%25`, CR→`%0D`, LF→`%0A`; a property also
  `:`→`%3A`, `,`→`%2C`.  The runner unescapes exactly these.
- Azure Pipelines (the agent's `CommandStringConvertor`, properties and data alike): `%`→`%AZP25`
  first, then `;`→`%3B`, CR→`%0D`, LF→`%0A`, `]`→`%5D`; and, as `output.untrusted` does, a `##vso[`
  inside the text shown as `\x23#vso[` (the agent reads one command a line; no second prefix at all).
Before that, any other control character (ESC, bidi overrides, ...) is shown as its Python escape, as
`output.untrusted` does.  A command is then one line that starts with the runner's prefix: the only
line baker writes that `Output`'s guard lets start a command, and only as a `RunnerCommand`, which
only this module builds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from baker.errors import ManifestError
from baker.output import Output, RunnerCommand, untrusted
from baker.record import Record
from baker.secret import REDACTOR, scrub

if TYPE_CHECKING:  # types only: no check machinery is imported for a build
    from baker.check.compare import CheckReport
    from baker.check.record import BakedImage
    from baker.errors import BakerError, Problem

Runner = Literal["github", "azure"]

# Control characters but CR and LF (those the runners' own escapes handle), lone surrogates, line and
# paragraph separators, bidi controls: what `output.untrusted` escapes, shown the same way.
_OTHER_UNSAFE_RE = re.compile(
    "[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]"
)


def detect(environ: Mapping[str, str] | None = None) -> Runner | None:
    """The runner baker runs under, from the variables each sets for every step."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        return "github"
    if env.get("TF_BUILD", "").lower() == "true":  # Azure Pipelines sets `True`
        return "azure"
    return None


def _shown(text: str) -> str:
    return _OTHER_UNSAFE_RE.sub(lambda m: untrusted(m.group(0)), text)


def github_data(text: str) -> str:
    """A workflow command's message, as `@actions/core`'s escapeData writes it."""
    return _shown(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A workflow command's property value, as `@actions/core`'s escapeProperty writes it."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def azure_escape(text: str) -> str:
    """A logging command's property or message, as the Azure Pipelines agent unescapes it."""
    text = _shown(text).replace("%", "%AZP25")
    text = re.sub(r"#(?=#(?:vso)?\[)", r"\\x23", text, flags=re.IGNORECASE)  # no second command's prefix
    for token, replacement in ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D")):
        text = text.replace(token, replacement)
    return text


def github_command(name: str, properties: Mapping[str, str], message: str) -> RunnerCommand:
    props = ",".join(f"{key}={github_property(value)}" for key, value in properties.items())
    return RunnerCommand(f"::{name}{' ' + props if props else ''}::{github_data(message)}")


def azure_command(area_action: str, properties: Mapping[str, str], message: str) -> RunnerCommand:
    props = ";".join(f"{key}={azure_escape(value)}" for key, value in properties.items())
    return RunnerCommand(f"##vso[{area_action}{' ' + props if props else ''}]{azure_escape(message)}")


class CI(Record):
    """What baker tells the runner it runs under.  Every method writes nothing off a runner."""

    runner: Runner
    environ: Mapping[str, str]

    @classmethod
    def detect(cls, environ: Mapping[str, str] | None = None) -> CI | None:
        env = dict(os.environ if environ is None else environ)
        runner = detect(env)
        return None if runner is None else cls(runner, env)

    # Annotations ---------------------------------------------------------------------------------

    def problem(self, file: str, line: int | None, message: str, *, severity: str = "error") -> RunnerCommand:
        """A manifest problem, on its file and line."""
        if self.runner == "github":
            where = {"file": file, **({"line": str(line)} if line is not None else {})}
            return github_command(severity, {**where, "title": "baker"}, message)
        kind = "warning" if severity == "warning" else "error"
        where = {"sourcepath": file, **({"linenumber": str(line)} if line is not None else {})}
        return azure_command("task.logissue", {"type": kind, **where}, message)

    def problems(self, problems: Iterable[Problem]) -> list[RunnerCommand]:
        return [
            self.problem(p.file, p.line, f"{p.key}: {p.message}" if p.key else p.message) for p in problems
        ]

    def error(self, message: str) -> RunnerCommand:
        """A failure with no place in a file."""
        if self.runner == "github":
            return github_command("error", {"title": "baker"}, message)
        return azure_command("task.logissue", {"type": "error"}, message)

    # Outputs -------------------------------------------------------------------------------------

    def outputs(self, values: Mapping[str, str]) -> list[RunnerCommand]:
        """Step outputs: GitHub reads them from the file `$GITHUB_OUTPUT` names (written here, so
        nothing to print); Azure Pipelines from `task.setvariable` commands (returned, to print)."""
        if self.runner == "github":
            path = self.environ.get("GITHUB_OUTPUT")
            if path:
                _append(Path(path), "".join(_file_command(name, value) for name, value in values.items()))
            return []
        return [
            azure_command("task.setvariable", {"variable": name, "isOutput": "true"}, value)
            for name, value in values.items()
        ]

    def summary(self, markdown: str) -> None:
        """Markdown for the run's summary page (GitHub's `$GITHUB_STEP_SUMMARY`)."""
        path = self.environ.get("GITHUB_STEP_SUMMARY") if self.runner == "github" else None
        if path:
            _append(Path(path), markdown)


def _file_command(name: str, value: str) -> str:
    """One `name<<DELIMITER` block of a GitHub file command (`@actions/core`'s
    prepareKeyValueMessage): any value, line breaks included, with a delimiter it cannot hold."""
    import uuid  # guards every run's start (issue 17): only a step output needs a delimiter

    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    if delimiter in name or delimiter in value:  # as the toolkit refuses it; never with a random one
        raise ValueError("an output holds its own delimiter")
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(REDACTOR.redact(text))


# What `build` and `check` tell the runner -------------------------------------------------------


def build_outputs(*, digest: str | None, tags: Sequence[str], rebaked: bool) -> dict[str, str]:
    return {"digest": digest or "", "tags": "\n".join(tags), "rebaked": "true" if rebaked else "false"}


def _cell(text: str) -> str:
    """Text from an image label or a registry in a Markdown table cell: shown, never markup."""
    text = untrusted(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*\[\]()#!~|])", r"\\\1", text)


def check_summary(record: BakedImage, report: CheckReport) -> str:
    """The step summary of one `check`: the image, where it was read, and per env var its status
    and versions (never a value)."""
    verdict = "re-bake due" if report.stale else "up to date"
    if report.attention:
        verdict = "a secret needs attention"
    where = "local engine" if record.where == "local" else "registry"
    lines = [
        f"### baker check: {verdict}",
        "",
        f"Image `{_cell(record.ref)}`, read from the {where}.",
        "",
        "| env | status | baked version | current version |",
        "|---|---|---|---|",
    ]
    for entry in report.entries:
        versions = (_cell(entry.baked_version or ""), _cell(entry.current_version or ""))
        lines.append(f"| {_cell(entry.env)} | {entry.status} | {versions[0]} | {versions[1]} |")
    return "\n".join(lines) + "\n\n"


def check_outputs(stale: bool) -> dict[str, str]:
    return {"stale": "true" if stale else "false"}


# JUnit ------------------------------------------------------------------------------------------


class JUnitCase(Record):
    suite: str  # the image
    name: str  # the env var
    status: str
    failed: bool
    message: str = ""


def junit_cases(image: str, report: CheckReport) -> list[JUnitCase]:
    # Guard: staleness is the check's; this module is imported by build, which does not need it.
    from baker.check.compare import ATTENTION, REBAKE

    return [
        JUnitCase(
            image,
            entry.env,
            entry.status,
            entry.status in REBAKE or entry.status in ATTENTION,
            entry.detail,
        )
        for entry in report.entries
    ]


def junit_xml(suites: Mapping[str, Sequence[JUnitCase]], errors: Mapping[str, str] | None = None) -> str:
    """One `<testsuite>` per image, one `<testcase>` per env var; a stale (or attention) status is a
    `<failure>`, an image that could not be checked an `<error>` case.  No value is ever in it."""
    # Guard: the XML escapes load only when a JUnit report is written (every command imports this module).
    from xml.sax.saxutils import escape as xml_escape
    from xml.sax.saxutils import quoteattr

    errors = errors or {}
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"]
    for image in [*suites, *(i for i in errors if i not in suites)]:
        cases = suites.get(image, ())
        failures = sum(c.failed for c in cases)
        error = errors.get(image)
        count = len(cases) + (1 if error else 0)
        parts.append(
            f'  <testsuite name={quoteattr(_x(image))} tests="{count}" failures="{failures}" '
            f'errors="{1 if error else 0}">'
        )
        for case in cases:
            head = f"    <testcase classname={quoteattr(_x(image))} name={quoteattr(_x(case.name))}"
            if case.failed:
                text = f"{case.status}{': ' + case.message if case.message else ''}"
                parts.append(f"{head}>")
                parts.append(
                    f"      <failure type={quoteattr(case.status)} message={quoteattr(_x(text))}>"
                    f"{xml_escape(_x(text))}</failure>"
                )
                parts.append("    </testcase>")
            else:
                parts.append(f"{head}><system-out>{xml_escape(case.status)}</system-out></testcase>")
        if error:
            parts.append(
                f'    <testcase classname={quoteattr(_x(image))} name="check">'
                f"<error message={quoteattr(_x(error))}>{xml_escape(_x(error))}</error></testcase>"
            )
        parts.append("  </testsuite>")
    parts.append("</testsuites>")
    return REDACTOR.redact("\n".join(parts) + "\n")


def _x(text: str) -> str:
    """Text from outside, fit for XML 1.0 (which cannot hold most control characters at all, nor
    the noncharacters U+FFFE and U+FFFF, which `untrusted` leaves)."""
    return untrusted(text).replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def write_junit(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# The hooks the CLI and the commands call: each does nothing off a runner (or with --no-ci) -------


def announce_error(out: Output, exc: BakerError) -> None:
    """A failure as the runner shows it: each manifest problem on its file and line, else one
    annotation with the message (the same text baker prints, scrubbed)."""
    if out.ci is None:
        return
    if isinstance(exc, ManifestError):
        for command in out.ci.problems(exc.problems):
            out.command(command)
    else:
        out.command(out.ci.error(scrub(exc.message)))


def set_outputs(out: Output, values: Mapping[str, str]) -> None:
    if out.ci is not None:
        for command in out.ci.outputs(values):
            out.command(command)


def after_build(out: Output, *, digest: str | None, tags: Sequence[str], rebaked: bool) -> None:
    """`build`'s step outputs: digest, tags (one per line), rebaked."""
    set_outputs(out, build_outputs(digest=digest, tags=tags, rebaked=rebaked))


def after_check(out: Output, checked: Sequence[tuple[BakedImage, CheckReport]]) -> None:
    """`check`'s step output (stale) and summary table, one section per image."""
    if out.ci is None:
        return
    set_outputs(out, check_outputs(any(report.stale for _, report in checked)))
    out.ci.summary("".join(check_summary(record, report) for record, report in checked))

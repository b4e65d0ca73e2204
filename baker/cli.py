"""The command line: argparse, dispatch to `baker.commands`, and the one error handler.

Commands are imported only when chosen, so `validate` and `plan` never import azure or docker.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from baker import __version__, signals
from baker.cinative import CI, announce_error
from baker.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, BakerError
from baker.output import Output
from baker.secret import scrub
from baker.suggest import closest

# command name -> (module in baker.commands, function)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "validate"),
    "plan": ("plan", "plan"),
    "render": ("render", "render"),
    "build": ("build", "build"),
    "check": ("check", "check"),
    "test-connection": ("connection", "test_connection"),
    "secrets list": ("secrets", "list_secrets"),
    "find": ("find", "find"),
    "run": ("run", "run"),
    "emulator": ("emulator", "emulator"),
}
# Offline commands: no SDK, no network, nothing logged (their logging is not set up).
OFFLINE = frozenset({"validate", "plan"})
# The CLI decides one or many: several `-f`, or a directory, go to the fleet variant (which uses the
# one-manifest module; the one-manifest module never imports it).
MANY: dict[str, tuple[str, str]] = {
    "build": ("build_fleet", "build_many"),
    "check": ("check_fleet", "check_many"),
}


class _UsageProblem(Exception):
    def __init__(self, usage: str, message: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse, but bad usage is raised to `main`, which exits 2 (the SPEC's code) and, with
    --json, also puts the error on stdout as a JSON document like every other failure."""

    def error(self, message: str) -> NoReturn:
        raise _UsageProblem(self.format_usage(), f"{self.prog}: error: {_unquoted(message)}")


_QUOTED = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
# Pattern texts, compiled (and cached by `re`) only when a usage error is worded: every run's start
# would otherwise compile them (~1 ms, issue 17).  (?s) is re.DOTALL.
_INVALID_CHOICE = rf"(?s)invalid choice: {_QUOTED} \(choose from (?P<choices>.*)\)$"
_INVALID_VALUE = rf"(?s)(invalid [\w ]+ value|ignored explicit argument):? {_QUOTED}$"
# An option name as baker (and most tools) spell them: lower case words joined by '-'.
_FLAG_SHAPE = r"-[a-z]|--[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
_AMBIGUOUS = r"(?s)ambiguous option: (?P<option>[^=\s]*)=\S*(?P<rest> could match .*)$"


def _unquoted(message: str) -> str:
    """argparse quotes a bad word back; a value pasted on the command line by mistake (a secret
    where a flag, a command or an option's value was meant) must not be echoed into a CI log: keep
    flags and the known choices, count or drop the rest."""
    head = "unrecognized arguments: "
    if message.startswith(head):
        words = message[len(head) :].split()
        # Only what is shaped like an option name is shown (a secret may well start with '-').
        flags = [w.split("=", 1)[0] for w in words if re.fullmatch(_FLAG_SHAPE, w.split("=", 1)[0])]
        others = len(words) - len(flags)
        shown = flags + ([f"and {others} more argument{'s' if others > 1 else ''}"] if others else [])
        return head + " ".join(shown)
    if match := re.search(_INVALID_CHOICE, message):
        # Python 3.12.8+ lists the choices unquoted.
        choices = [c.strip().strip("'") for c in match["choices"].split(",")]
        import ast  # guards every run's start (issue 17): only a mistyped command needs it

        try:
            word = str(ast.literal_eval(match[1]))
        except (ValueError, SyntaxError):
            word = ""
        close = closest(word, choices)
        hint = f"; did you mean {close!r}?" if close is not None else ""
        return message[: match.start()] + f"invalid choice (choose from {match['choices']}){hint}"
    if match := re.search(_INVALID_VALUE, message):
        return message[: match.start()] + match[1]
    if match := re.search(_AMBIGUOUS, message):
        return message[: match.start()] + f"ambiguous option: {match['option']}{match['rest']}"
    return message


def _seconds(text: str) -> float:
    """A positive, finite number of seconds; the word itself is never echoed back (see `_unquoted`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("expected a positive number of seconds")
    return value


def _common(*, manifest: bool = True, many: bool = False) -> _Command:
    common = _Command(add_help=False)
    if many:  # check, build: several manifests, or a directory of them
        common.add_argument(
            "-f",
            "--file",
            type=Path,
            action="append",
            default=argparse.SUPPRESS,
            help="the manifest (default: ./baker.yaml); repeat it, or name a directory (every baker.yaml "
            "below it), to work on several, each with its own image.tag",
        )
    elif manifest:
        common.add_argument(
            "-f",
            "--file",
            type=Path,
            default=argparse.SUPPRESS,
            help="the manifest (default: ./baker.yaml)",
        )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable result on stdout"
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="verbose diagnostics on stderr (never any value)",
    )
    common.add_argument(
        "--no-ci",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no annotations, step outputs or summaries for the CI runner (GitHub Actions, Azure Pipelines)",
    )
    return common


def build_parser() -> _Parser:
    """The whole command line.  A command's parser is made when it is looked up (argparse looks up
    only the chosen one), and its own arguments are added when it is parsed (or its help shown): a
    run builds one command's parser, not ten (issue 17: process start)."""
    common = _common()
    parser = _Parser(
        prog="baker",
        description="Bake Azure Key Vault secrets into container images.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"baker {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Command, action=_Commands
    )
    assert isinstance(sub, _Commands)

    def one() -> list[_Parser]:
        return [common]

    def many() -> list[_Parser]:
        return [_common(many=True)]

    def bare() -> list[_Parser]:  # find reads registries, the emulator a world file: no -f
        return [_common(manifest=False)]

    sub.add_command("validate", one, help="check the manifest offline")
    sub.add_command("plan", one, help="show each env var's source; no values")
    sub.add_command(
        "render", one, fill=_render_arguments, help="resolve and write the Dockerfile and env layer"
    )
    sub.add_command("build", many, fill=_build_arguments, help="resolve, render privately, build (and push)")
    sub.add_command("check", many, fill=_check_arguments, help="is a re-bake due? (exit 3 when it is)")
    sub.add_command("test-connection", one, fill=_connection_arguments, help="sign in and prove read access")
    sub.add_command("secrets", one, fill=_secrets_arguments, help="secret names in a vault")
    sub.add_command(
        "run",
        one,
        fill=_run_arguments,
        help="resolve, then run CMD with the values in its environment (no image); exits with CMD's code",
        description="Resolve the manifest's env: values, then become CMD (exec: no shell, no file, CMD's "
        "exit code and signals); CMD is looked up on your PATH. files: are refused: they are baked by "
        "`baker build` only.",
    )
    sub.add_command(
        "find",
        bare,
        fill=_find_arguments,
        help="which tags and digests in registry repositories were baked from a secret (version)",
    )
    sub.add_command(
        "emulator", bare, fill=_emulator_arguments, help="run the local Entra + Key Vault emulator"
    )
    return parser


class _Parsers(dict[str, "_Command | None"]):
    """The commands' parsers by name, for argparse (which reads only the names, and looks up the
    chosen one): a parser is made on its first lookup; an unmade one is None."""

    def __init__(self) -> None:
        super().__init__()
        self.makers: dict[str, Callable[[], _Command]] = {}

    def __getitem__(self, name: str) -> _Command:
        parser = super().__getitem__(name)
        if parser is None:
            parser = self.makers.pop(name)()
            self[name] = parser
        return parser

    def made(self) -> set[str]:
        return {name for name, parser in dict.items(self) if parser is not None}


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """argparse's subcommands, each added as a recipe (`add_command`) instead of a parser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = self._name_parser_map = _Parsers()

    def add_command(
        self, name: str, parents: Callable[[], list[_Parser]], *, help: str, **kwargs: Any
    ) -> None:
        """`add_parser(name, parents=parents(), help=help, **kwargs)`, the parser made when looked up:
        the help line is recorded now, and the parser gets what add_parser would have given it."""
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), help))
        prog = f"{self._prog_prefix} {name}"
        parsers = self.choices
        assert isinstance(parsers, _Parsers)
        parsers[name] = None
        parsers.makers[name] = lambda: _Command(prog=prog, parents=parents(), **kwargs)


class _Command(_Parser):
    """One command's parser: `fill` adds its own options (after its parents', as an eager build
    would) when it is first parsed or its help or usage is shown."""

    def __init__(self, *args: Any, fill: Callable[[_Parser], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fill = fill

    def _filled(self) -> None:
        fill, self._fill = self._fill, None
        if fill is not None:
            fill(self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._filled()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._filled()
        return super().format_usage()

    def format_help(self) -> str:
        self._filled()
        return super().format_help()


def _render_arguments(p: _Parser) -> None:
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write into")


def _build_arguments(p: _Parser) -> None:
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="T",
        help="tag the image as T, instead of the manifest's image.tag (repeatable: every T is tagged)",
    )
    p.add_argument("--push", action="store_true", help="push every tag after the build")
    p.add_argument(
        "--if-stale",
        action="store_true",
        help="bake only when `check` would say a re-bake is due for the (first) tag",
    )
    p.add_argument(
        "--in-registry",
        action="store_true",
        help="bake straight in the registry, no Docker engine: every platform of image.from gets the "
        "values, pushed to every tag (always pushes)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="with --in-registry: the most the bake may take once the base is read (default 3600)",
    )
    p.add_argument(
        "--revoke-superseded",
        action="store_true",
        help="after the push, delete from the registry the baked image each tag pointed at before "
        "(it holds the old values), unless another tag still names it",
    )


def _check_arguments(p: _Parser) -> None:
    p.add_argument(
        "--image",
        default=None,
        metavar="REF",
        help="the baked image to check (default: the manifest's image.tag)",
    )
    p.add_argument(
        "--source",
        choices=("engine", "registry"),
        default=None,
        help="where to read the image: its registry or the local engine (default: the copy a deploy "
        "pulls, the registry for a reference naming a registry host, else the engine)",
    )
    p.add_argument(
        "--junit",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write a JUnit XML report (one test case per image and env var; stale ones fail)",
    )


def _connection_arguments(p: _Parser) -> None:
    p.add_argument("credential", nargs="?", metavar="CREDENTIAL", help="only this credential")


def _secrets_arguments(p: _Parser) -> None:
    secrets_sub = p.add_subparsers(dest="secrets_command", metavar="SUBCOMMAND", required=True)
    q = secrets_sub.add_parser("list", parents=[_common()], help="list secret names (never values)")
    q.add_argument("credential", nargs="?", metavar="CREDENTIAL", help="default: the default credential")
    q.add_argument("--prefix", default=None, metavar="P", help="only names starting with P")


def _run_arguments(p: _Parser) -> None:
    p.add_argument(
        "argv",
        nargs=argparse.REMAINDER,
        metavar="-- CMD [ARGS]",
        help="the command and its arguments, after `--` (baker reads no option after it)",
    )


def _find_arguments(p: _Parser) -> None:
    p.add_argument(
        "--secret",
        required=True,
        metavar="NAME[#key][@VERSION]",
        help="the secret (its Azure or manifest name), optionally one JSON key and one version",
    )
    p.add_argument(
        "repositories",
        nargs="+",
        metavar="REPO",
        help="registry repositories (registry.example.com/team/app), or one tag of one (…/app:tag)",
    )


def _emulator_arguments(p: _Parser) -> None:
    p.add_argument("--world", type=Path, default=None, metavar="FILE", help="world file (YAML) to seed from")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8443, help="port (default 8443; 0 picks a free one)")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to keep the CA (default: a temp dir)",
    )


def _files(args: argparse.Namespace) -> list[Path]:
    files = getattr(args, "file", Path("baker.yaml"))
    return files if isinstance(files, list) else [files]  # `-f` before the command: one


def _many(name: str, args: argparse.Namespace) -> bool:
    """Several manifests: more than one `-f`, or a directory."""
    files = _files(args)
    return name in MANY and (len(files) > 1 or any(path.is_dir() for path in files))


def _command_kwargs(name: str, args: argparse.Namespace) -> dict[str, Any]:
    files = _files(args)
    many = _many(name, args)
    kwargs: dict[str, Any] = {"files": files} if many else {"file": files[0]}
    if name == "render":
        kwargs["out_dir"] = args.out
    elif name == "build":
        kwargs.update(
            tags=list(args.tag),
            push=args.push,
            if_stale=args.if_stale,
            in_registry=args.in_registry,
            timeout=args.timeout,
            revoke_superseded=args.revoke_superseded,
        )
    elif name == "check":
        kwargs.update(image=args.image, source=args.source, junit=args.junit)
    elif name == "test-connection":
        kwargs["credential"] = args.credential
    elif name == "secrets list":
        kwargs.update(credential=args.credential, prefix=args.prefix)
    elif name == "run":
        kwargs["command"] = list(args.argv)
    elif name == "find":
        del kwargs["file"]
        kwargs.update(secret=args.secret, repositories=list(args.repositories))
    elif name == "emulator":
        del kwargs["file"]
        kwargs.update(world=args.world, host=args.host, port=args.port, state_dir=args.state_dir)
    return kwargs


def main(argv: Sequence[str] | None = None) -> int:
    # First of all: from here on no stop signal ends baker by its default action (see signals).
    # `python -m baker` installs them even earlier, before this module's imports.
    undo = signals.install()
    arguments = list(sys.argv[1:] if argv is None else argv)
    outs: list[Output] = []  # the run's Output, once made: whether its --json document was written
    try:
        code = _main(arguments, outs)
        # A stop that a command held and let complete (a bake's commit) still exits 130.
        return EXIT_INTERRUPTED if signals.requested() else code
    except KeyboardInterrupt:  # a stop before the command ran, or while a failure was being reported
        _stopped(outs[0] if outs else Output(json_mode="--json" in arguments))
        return EXIT_INTERRUPTED
    finally:
        signals.finish()
        undo()


# The `--json` document of a run a stop ended before its command wrote one (`_stopped`); a bake's
# own stop document (`commands._common.report_stop`) has the same fields.
STOPPED: dict[str, object] = {"error": "Interrupted", "message": "stopped", "left": [], "not_restored": []}


def _stopped(out: Output) -> None:
    """A stop ended the run: with --json, stdout still holds exactly one document (the command's,
    when it wrote one; else `STOPPED`)."""
    if not out.wrote_result:
        out.result(STOPPED)


def _main(arguments: list[str], outs: list[Output]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    except _UsageProblem as problem:
        sys.stderr.write(problem.usage + problem.message + "\n")
        if "--json" in arguments:
            outs.append(Output(json_mode=True))
            outs[0].result({"error": "UsageError", "message": problem.message})
        return EXIT_USAGE
    json_mode = bool(getattr(args, "json", False))
    debug = bool(getattr(args, "debug", False))
    out = Output(json_mode=json_mode, ci=None if getattr(args, "no_ci", False) else CI.detect())
    outs.append(out)
    name = "secrets list" if args.command == "secrets" else args.command
    if name not in OFFLINE:
        # guards validate's and plan's start (issue 17): they load no SDK and log nothing, so there
        # is no record to redact (test_import_rules: they never load logging)
        from baker.logs import setup_logging

        setup_logging(debug=debug)
    module_name, func_name = MANY[name] if _many(name, args) else COMMANDS[name]
    try:
        module = importlib.import_module(f"baker.commands.{module_name}")
        func = getattr(module, func_name)
        code: int = func(out=out, **_command_kwargs(name, args))
        return code
    except KeyboardInterrupt:  # start-up, loading, a check, or a bake (that wrote its document)
        out.progress("interrupted")
        _stopped(out)
        return EXIT_INTERRUPTED
    except BakerError as exc:
        _report(out, exc)
        return exc.exit_code
    except Exception as exc:  # a bug: say so, never dump locals or values
        out.progress(f"error: internal error ({type(exc).__name__}); run again with --debug for details")
        if debug:
            import traceback  # guards every run's start (issue 17): only a bug's --debug report needs it

            out.progress(scrub("".join(traceback.format_exception(exc))))
        out.result({"error": "InternalError", "message": type(exc).__name__})
        return EXIT_FAILURE


def _report(out: Output, exc: BakerError) -> None:
    announce_error(out, exc)  # on a CI runner: an annotation (on the manifest's line, for a problem)
    out.error(exc.message, exc.hint)
    out.result(exc.to_json())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["EXIT_USAGE", "build_parser", "main"]

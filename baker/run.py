"""`baker run -- CMD [ARGS]`: the resolved values in CMD's environment, no image (local parity).

Decisions (README "Running a command with the values"):

- **baker becomes CMD** (`os.execve`), it does not start a child.  The process the caller started is
  CMD from then on: its exit status is CMD's (a death by signal N is one, which a shell reports as
  128+N), every signal (Ctrl-C from a terminal, SIGTERM from a CI runner, SIGHUP, SIGTSTP, SIGWINCH)
  reaches CMD alone and exactly once, and the terminal, job control and stdin are CMD's.  A parent
  that forwards signals delivers Ctrl-C twice (the terminal sends it to the whole foreground process
  group, the child included) and must re-create job control for ^Z; an exec has nothing to forward.
  What exec gives up is work after CMD ends, and `baker run` has none: it writes no file.
- **`files:` are refused** (exit 2, before any fetch): writing a value to a local disk, even into a
  private temporary directory, leaves it there when baker is killed (SIGKILL, OOM, a power cut), and
  the application would look for it at its image path (`/run/secrets/...`) anyway.  Files are baked
  by `baker build`; locally, give the same value form an `env:` name.
- The environment is the caller's, byte for byte (`os.environb`), with each manifest variable set to
  its value (a variable of the same name replaced, as the bake replaces a base image's); the values
  are encoded as UTF-8, the image's encoding.  A value no environment can carry (`envvalue.problem`)
  is refused, naming the variable.
- CMD is looked up on the caller's PATH (not on a PATH the manifest sets for the image), and run with
  no shell: its words are argv, never parsed.  Not found: exit 127; found but not runnable: 126 (the
  shell's codes).
- Nothing is printed about values; stdout is CMD's (no `--json` document on success).

A library caller: `run(manifest, argv)` resolves, then execs; it returns only by raising.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from baker import envvalue
from baker.errors import CommandNotRun, UsageError
from baker.model import Manifest
from baker.output import untrusted
from baker.resolver import ResolvedEnv, resolve

NOT_FOUND = 127
NOT_RUNNABLE = 126

# Python ignores these at start-up; an exec keeps an ignored disposition, so CMD would inherit it
# (`yes | head` never ending by SIGPIPE).  `subprocess` restores the same ones (`restore_signals`).
_RESTORED = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name))


def check_runnable(manifest: Manifest) -> None:
    """What `run` refuses before any fetch: a manifest with `files:` (see the module docstring)."""
    paths = [entry.path for entry in manifest.files]
    if paths:
        more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
        shown = ", ".join(untrusted(p) for p in paths[:5]) + more
        raise UsageError(
            f"baker run gives values through the environment only; this manifest has files: ({shown})",
            hint="files: are baked into the image by `baker build`; to run locally, give the same value "
            "an env: name in a manifest for local use",
        )


def environment(resolved: ResolvedEnv, environ: Mapping[bytes, bytes] | None = None) -> dict[bytes, bytes]:
    """The caller's environment (`os.environb` by default) with every resolved variable set to its
    value, UTF-8 encoded.  `CommandNotRun` (exit 1) names a variable whose value no environment
    can carry (never the value)."""
    env = dict(os.environb if environ is None else environ)
    for entry in resolved.entries:
        value = entry.value.reveal()
        why = envvalue.problem(entry.env, value)
        if why is not None:
            raise CommandNotRun(why, hint=envvalue.HINT, exit_code=1)
        env[entry.env.encode("ascii")] = value.encode("utf-8")
    return env


def find_command(name: str, path: str | None = None) -> str:
    """The program `name` runs, as a shell finds it: a name holding `/` as written, any other on
    `path` (default: the caller's PATH).  `CommandNotRun`: 127 when there is none, 126 when a path
    names something not executable."""
    if not name:
        raise CommandNotRun("the command is empty", exit_code=NOT_FOUND)
    if "/" in name:
        if not os.path.lexists(name):
            raise CommandNotRun(f"{untrusted(name)}: no such file", exit_code=NOT_FOUND)
        is_dir = Path(name).is_dir()
        if is_dir or not os.access(name, os.X_OK):
            why = "Is a directory" if is_dir else "Permission denied"
            raise CommandNotRun(f"{untrusted(name)}: cannot run it ({why})", exit_code=NOT_RUNNABLE)
        return name
    found = shutil.which(name, path=os.environ.get("PATH", os.defpath) if path is None else path)
    if found is None:
        raise CommandNotRun(
            f"{untrusted(name)}: command not found",
            hint="baker run looks the command up on your PATH (not the manifest's); name it by its path",
            exit_code=NOT_FOUND,
        )
    return found


def exec_with(
    resolved: ResolvedEnv, argv: Sequence[str], *, environ: Mapping[bytes, bytes] | None = None
) -> NoReturn:
    """Replace this process with `argv` run with the values in its environment.  Returns only by
    raising `CommandNotRun` (127: not found, 126: not runnable) or `UsageError` (no command)."""
    if not argv:
        raise UsageError("baker run needs a command: baker run [-f MANIFEST] -- CMD [ARGS]")
    program = find_command(argv[0])
    env = environment(resolved, environ)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    previous = {signum: signal.signal(signum, signal.SIG_DFL) for signum in _RESTORED}
    try:
        os.execve(program, list(argv), env)  # noqa: S606 (no shell, on purpose: argv is never parsed)
    except OSError as exc:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        code = NOT_FOUND if exc.errno == errno.ENOENT else NOT_RUNNABLE
        raise CommandNotRun(
            f"{untrusted(argv[0])}: cannot run it ({os.strerror(exc.errno or 0) or type(exc).__name__})",
            exit_code=code,
        ) from None


def preflight(manifest: Manifest, argv: Sequence[str]) -> None:
    """Everything `run` refuses, offline and before any secret is read: `files:`, no command, a
    command not found (a typo costs no vault round trip)."""
    check_runnable(manifest)
    if not argv:
        raise UsageError("baker run needs a command: baker run [-f MANIFEST] -- CMD [ARGS]")
    find_command(argv[0])


def run(manifest: Manifest, argv: Sequence[str], *, resolved: ResolvedEnv | None = None) -> NoReturn:
    """The pipeline of `baker run`: `preflight`, resolve (unless given the values already
    resolved), then become `argv`."""
    preflight(manifest, argv)
    exec_with(resolve(manifest) if resolved is None else resolved, argv)


__all__ = [
    "NOT_FOUND",
    "NOT_RUNNABLE",
    "check_runnable",
    "environment",
    "exec_with",
    "find_command",
    "preflight",
    "run",
]

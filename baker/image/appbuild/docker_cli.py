"""The user's Docker CLI, run as a child process: which one, which builder it gives, and running it
with its output streamed line by line through the Redactor.

Which CLI: `BAKER_DOCKER` (a path) when set, else the first `docker` on PATH, the one the user's
own `docker build` runs; it reads DOCKER_HOST, DOCKER_CONTEXT and DOCKER_CONFIG itself (the child
inherits baker's environment, with baker's credential variables blanked as for docker-py's
credential helpers, `dockerconfig.helper_safe`: the CLI runs the user's helpers itself).  Which
builder, as that `docker build` would choose:

- `buildx`: `docker buildx version` answers (the plugin is installed): `docker buildx build`.
- `buildkit`: no plugin, and a CLI older than 23.0: `DOCKER_BUILDKIT=1 docker build` (those CLIs
  carry their own BuildKit client; from 23.0 on, `docker build` with BuildKit *is* buildx, and
  without the plugin `DOCKER_BUILDKIT=1` is refused: "BuildKit is enabled but the buildx component is
  missing or broken").
- `classic`: neither, or `DOCKER_BUILDKIT=0` set by the user: Docker's deprecated classic builder.

Arguments go as an argv list (no shell).  A value never goes on an argv (every process can read
it) nor in the child's environment (every credential helper the CLI starts inherits it): a build
secret is a memory file the CLI opens by its /proc path (`appbuild`), which no child inherits.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Literal

from baker.errors import EngineError, UsageError
from baker.image.dockerconfig import helper_safe
from baker.output import untrusted
from baker.record import Record
from baker.secret import REDACTOR

CLI_VARIABLE = "BAKER_DOCKER"
Route = Literal["buildx", "buildkit", "classic"]
PROBE_TIMEOUT = 30.0
# A line is redacted whole, then cut for display: a value split across two reads would escape the
# Redactor.  What a line holds past LINE_KEPT is dropped unread (never shown), so a step printing
# without newlines cannot eat memory; LINE_SHOWN is far below it, so a value cut at LINE_KEPT (not
# masked, being partial) is never within what is shown unless it is longer than their difference.
LINE_KEPT = 4 * 1024 * 1024
LINE_SHOWN = 64 * 1024
INSTALL_BUILDX = (
    "install Docker's buildx plugin (Docker's apt/yum repositories: `docker-buildx-plugin`; Debian and "
    "Ubuntu: `docker-buildx`; or the binary from https://github.com/docker/buildx/releases saved as "
    "~/.docker/cli-plugins/docker-buildx, mode 0755), then check with `docker buildx version`"
)


class DockerCli(Record):
    path: str
    version: str  # the client's
    route: Route
    buildkit_refused: str | None = None  # why BuildKit is not to be had (classic route only)
    # `docker info`'s ID and DockerRootDir for the engine this CLI talks to: two engines on one machine
    # may share an ID (it comes from /etc/docker/key.json), never a data root
    engine_id: str = ""


def _cli_path(environ: Mapping[str, str]) -> str:
    chosen = environ.get(CLI_VARIABLE)
    if chosen:
        if not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise UsageError(
                f"{CLI_VARIABLE}={untrusted(chosen)} is not an executable file",
                hint=f"point {CLI_VARIABLE} at a docker CLI, or unset it to use the first `docker` on PATH",
            )
        return chosen
    found = shutil.which("docker", path=environ.get("PATH", os.defpath))
    if found is None:
        raise UsageError(
            "no `docker` command on PATH: image.build builds the app with the Docker CLI",
            hint=f"install the Docker CLI (with its buildx plugin), or set {CLI_VARIABLE} to its path",
        )
    return found


def _major(version: str) -> int:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def probe(environ: Mapping[str, str] | None = None) -> DockerCli:
    """The CLI and its builder, and proof its engine answers (`docker version`): EngineError if not."""
    env = os.environ if environ is None else environ
    path = _cli_path(env)
    try:
        answer = subprocess.run(
            [path, "version", "--format", "{{json .}}"],
            env=helper_safe(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(
            f"the docker CLI ({untrusted(path)}) did not answer `docker version`: {type(exc).__name__}",
            hint="check the Docker installation and DOCKER_HOST / DOCKER_CONTEXT",
        ) from None
    try:
        document = json.loads(answer.stdout.decode("utf-8", "replace").strip().splitlines()[0])
        version = str(document["Client"]["Version"])
        server = document.get("Server")
    except (ValueError, IndexError, KeyError, TypeError):
        version, server = "", None
    if not server:
        said = _last_line(answer.stderr.decode("utf-8", "replace"))
        raise EngineError(
            f"the Docker engine does not answer the docker CLI ({untrusted(path)}): {said}",
            hint="start the Docker engine, or point DOCKER_HOST / DOCKER_CONTEXT at one",
        )
    info = _answer(path, ["info", "--format", "{{.ID}} {{.DockerRootDir}}"], env)
    engine_id = info.stdout.decode("utf-8", "replace").strip()
    buildkit = env.get("DOCKER_BUILDKIT", "").strip().lower()
    if buildkit in ("0", "false"):
        return DockerCli(path, version, "classic", "DOCKER_BUILDKIT=0 is set", engine_id)
    if _answer(path, ["buildx", "version"], env).returncode == 0:
        return DockerCli(path, version, "buildx", None, engine_id)
    if 0 < _major(version) < 23:
        return DockerCli(path, version, "buildkit", None, engine_id)
    why = f"the docker CLI {untrusted(version)} has no buildx plugin"
    return DockerCli(path, version, "classic", why, engine_id)


def _answer(path: str, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    """A short question to the CLI; a CLI that hangs or cannot start is a failed answer."""
    try:
        return subprocess.run(
            [path, *args],
            env=helper_safe(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return subprocess.CompletedProcess([path, *args], 1, b"", b"")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return untrusted(REDACTOR.redact(lines[-1])) if lines else "(no message)"


def _read_line(stream: IO[bytes]) -> bytes | None:
    """One line (None at the end): at most LINE_KEPT bytes of it kept, the rest read and dropped."""
    kept = stream.readline(LINE_KEPT)
    if not kept:
        return None
    if not kept.endswith(b"\n"):
        while True:  # drop the rest of an overlong line, in bounded reads
            rest = stream.readline(LINE_SHOWN)
            if not rest or rest.endswith(b"\n"):
                break
    return kept


def answer_of(cli: DockerCli, args: list[str], environ: Mapping[str, str]) -> str:
    """The CLI's stdout for a short question ("" when it fails): digests, ids, never output shown."""
    answer = _answer(cli.path, args, environ)
    return answer.stdout.decode("utf-8", "replace").strip() if answer.returncode == 0 else ""


class Finished(Record):
    returncode: int
    last_error: str  # the last line that reads as an error, redacted and escaped ("" when none)
    lines: tuple[str, ...]  # a few last lines, redacted and escaped, for what the caller parses


def run(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str],
    on_line: Callable[[str], None],
    keep: int = 40,
) -> Finished:
    """Run `argv`, every output line (stdout and stderr, in order) redacted, escaped and handed to
    `on_line`.  A stop (KeyboardInterrupt) interrupts the child as Ctrl-C would, waits for it
    (then kills it), and is raised again."""
    try:
        process = subprocess.Popen(
            list(argv),
            env=helper_safe(environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:  # the CLI went (or lost its mode) since `probe` found it
        raise EngineError(
            f"could not run the docker CLI ({untrusted(argv[0])}): {exc.strerror or type(exc).__name__}",
            hint=f"check the Docker installation, or point {CLI_VARIABLE} at a docker CLI",
        ) from None
    last_error = ""
    tail: list[str] = []
    try:
        assert process.stdout is not None
        while True:
            raw = _read_line(process.stdout)
            if raw is None:
                break
            text = REDACTOR.redact(raw.decode("utf-8", "replace").rstrip("\r\n"))
            cut = len(text) > LINE_SHOWN
            line = untrusted(text[:LINE_SHOWN]) + (" [line cut]" if cut else "")
            on_line(line)
            if line.lstrip().lower().startswith(("error", "failed to", "executor failed")):
                last_error = line.strip()
            tail = [*tail[-(keep - 1) :], line]
        returncode = process.wait()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # the CLI cancels the build and exits
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
    return Finished(returncode, last_error, tuple(tail))

"""Render a resolved manifest into a build directory: a `Dockerfile` that holds no value, and the
env layer `docker-bake.json` (a standard `docker buildx bake` file) that holds them all.

Why this shape: the Dockerfile declares one `ARG` per variable and `ENV NAME=${ARG}` and nothing
else, so the base image's ENTRYPOINT, CMD, WORKDIR and USER are kept, and every value travels as a
build argument.  The engine expands `${ARG}` without re-parsing the value, so quotes, `$`,
backslashes, CRLF, surrounding spaces and Unicode arrive byte for byte, and the build log shows
`ENV NAME=${ARG}`, never the value.  The bake file is JSON written by `json.dumps`, which
round-trips every string exactly.

The build arguments are not named like the variables: in `$NAME` substitution the builder prefers an
environment variable to a build argument of the same name, so a base image that sets `DB_PASSWORD`
(or `PATH`) would have its own value baked instead of the manifest's.  Each rendering names its build
arguments `baker_<token>_NAME`, the token random, so no base can set one of them.  (`baker build`
does not use this: its bake is a config edit, `baker.image.bake`.)

Files are created owner-only (0600) in an owner-only directory (0700); an existing directory that
someone else owns or can write to is refused (they could swap the files under us), and so is one
below a directory another user owns or others can write to without the sticky bit.  An existing
directory must be empty or hold only what an earlier rendering wrote (its Dockerfile begins with
baker's header): `render --out .` in an app's directory would otherwise replace the app's own
Dockerfile.  Writes go to a fresh `O_EXCL` temporary file in the same directory and are renamed into
place, so a symlink planted at the target is replaced, never followed.

Imports neither docker nor azure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from baker import envvalue, imageref
from baker.errors import RenderError
from baker.model import Manifest
from baker.provenance import LABEL, to_label
from baker.record import Record, field

if TYPE_CHECKING:
    from baker.resolver import ResolvedEnv

DOCKERFILE = "Dockerfile"
BAKE_FILE = "docker-bake.json"
# The first line of every Dockerfile baker renders (templates/Dockerfile.j2): how `render` knows a
# directory it may write into again.
RENDERED_HEADER = "# Rendered by baker."

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class RenderedFiles(Record):
    directory: Path
    dockerfile: Path
    bake_file: Path | None  # None when rendered without the env layer (`baker build`)
    arg_names: Mapping[str, str] = field(default_factory=dict)  # env name -> its build argument's name

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.dockerfile,) if self.bake_file is None else (self.dockerfile, self.bake_file)


def _check_value(name: str, value: str) -> None:
    if not _ENV_NAME.match(name):
        raise RenderError(f"{name!r} is not a valid environment variable name")
    refusal = envvalue.problem(name, value)  # the rule every road applies
    if refusal is not None:
        raise RenderError(refusal, hint=envvalue.HINT)


def build_arg_names(names: Sequence[str]) -> dict[str, str]:
    """env name -> the name of the build argument that carries its value into the Dockerfile's ENV.

    Never the env name itself: a base image's ENV of that name would win.  The token is fresh random
    bits: neither a base image nor a manifest can name a variable like one of these without
    predicting it (and `render_texts` checks)."""
    token = secrets.token_hex(8)
    return {name: f"baker_{token}_{name}" for name in names}


def _json_filter(value: Any, indent: int = 0) -> str:
    # ensure_ascii=False keeps non-ASCII as itself; json.dumps escapes every control character, so
    # structural newlines are the only raw ones and can be indented safely.
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return text.replace("\n", "\n" + " " * indent)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.PackageLoader("baker.templates", ""),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["json"] = _json_filter
    return env


def render_texts(
    args: Mapping[str, str],
    *,
    base: str,
    labels: Mapping[str, str],
    tags: Sequence[str],
    env_layer: bool = True,
    arg_names: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """The Dockerfile's text and the bake file's text (empty without `env_layer`: the values then
    are never put into any text).  The bake file's args are keyed by the build arguments' names,
    `arg_names` (env name -> build argument name; fresh ones from `build_arg_names` when None).
    Pure: writes nothing."""
    imageref.validate_base(base)
    for tag in tags:
        imageref.validate_tag(tag)
    for name, value in args.items():
        _check_value(name, value)
    if arg_names is None:
        arg_names = build_arg_names(list(args))
    _check_arg_names(args, arg_names)
    env = _environment()
    try:
        dockerfile = env.get_template("Dockerfile.j2").render(
            base=base,
            pairs=[(name, arg_names[name]) for name in args],
        )
        bake = ""
        if env_layer:
            bake = env.get_template("docker-bake.json.j2").render(
                dockerfile=DOCKERFILE,
                args={arg_names[name]: value for name, value in args.items()},
                labels=dict(labels),
                tags=list(tags),
            )
    except jinja2.TemplateError as exc:
        # The message names the template and the missing name, never a value (values are data).
        raise RenderError(f"rendering failed: {type(exc).__name__}: {exc.message}") from None
    return dockerfile, bake


def _check_arg_names(args: Mapping[str, str], arg_names: Mapping[str, str]) -> None:
    """One distinct build argument per variable, none named like a variable (its ENV would win)."""
    chosen = [arg_names.get(name, "") for name in args]
    if (
        len(set(chosen)) != len(chosen)
        or set(chosen) & set(args)
        or not all(_ENV_NAME.match(arg) for arg in chosen)
    ):
        raise RenderError("the build arguments' names must be distinct, valid, and no variable's name")


def prepare_directory(directory: Path) -> Path:
    """Create `directory` 0700, or check an existing one is ours, private, and empty or rendered by
    baker before, narrowing it to 0700."""
    try:
        _check_ancestors(directory.parent)
        _make_parents(directory.parent)
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        info = directory.lstat()
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            # A symlink could be re-pointed between this check and the writes: name the real directory.
            raise RenderError(
                f"{directory} is not a directory (or is a symlink)",
                hint="choose a new or existing directory for --out (its real path, not a symlink)",
            )
        if info.st_uid != os.getuid():
            raise RenderError(
                f"{directory} belongs to another user; baker writes values only into a directory you own",
                hint="choose a directory of your own for --out",
            )
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise RenderError(
                f"{directory} is writable by other users; they could replace the files baker writes",
                hint=f"chmod go-w {directory}, or choose a private directory for --out",
            )
        _check_contents(directory)
        # Never widened: only the owner's bits survive.
        directory.chmod(stat.S_IMODE(info.st_mode) & 0o700)
    except OSError as exc:
        raise RenderError(f"cannot prepare {directory}: {exc.strerror}") from None
    return directory


def _make_parents(parent: Path) -> None:
    """Missing parents are made 0700 whatever the umask: a world-writable one would let another user
    swap the output directory for their own before anyone builds from it."""
    missing = []
    for candidate in (parent, *parent.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for candidate in reversed(missing):
        with contextlib.suppress(FileExistsError):
            candidate.mkdir(mode=0o700)
            candidate.chmod(0o700)


def _check_contents(directory: Path) -> None:
    """Refuse a directory holding anything but an earlier rendering (the app's own Dockerfile, a
    buildx project, sources): baker would replace files it did not write."""
    entries = sorted(entry.name for entry in directory.iterdir())
    if not entries or (set(entries) <= {DOCKERFILE, BAKE_FILE} and _rendered(directory / DOCKERFILE)):
        return
    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    raise RenderError(
        f"{directory} is not empty and baker did not render into it (it holds {shown}); baker "
        "would replace files it did not write",
        hint="choose a new directory for --out (baker creates it), e.g. --out baked/",
    )


def _rendered(dockerfile: Path) -> bool:
    """True when `dockerfile` is a regular file that baker rendered (never following a symlink)."""
    try:
        fd = os.open(dockerfile, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        return handle.read(len(RENDERED_HEADER)) == RENDERED_HEADER.encode()


def _check_ancestors(parent: Path) -> None:
    """Refuse an output directory below one that another user owns, or that others may write to
    without the sticky bit (as /tmp has): they could rename ours away and put theirs in its place.
    Only the directories that exist are looked at; `_make_parents` makes the rest, private."""
    resolved = parent.resolve()
    for ancestor in (resolved, *resolved.parents):
        try:
            info = ancestor.stat()
        except FileNotFoundError:
            continue
        mode = info.st_mode
        if info.st_uid not in (0, os.getuid()):
            raise RenderError(
                f"{ancestor} belongs to another user, who could replace the directory baker writes into",
                hint="choose --out below directories that you (or root) own",
            )
        if mode & stat.S_ISVTX:
            continue
        if mode & stat.S_IWOTH:
            raise RenderError(
                f"{ancestor} is writable by every user (and not sticky): they could replace the "
                "directory baker writes into",
                hint=f"chmod o-w {ancestor}, or choose --out below a private directory",
            )
        if mode & stat.S_IWGRP:
            raise RenderError(
                f"{ancestor} is writable by other users of its group (and not sticky): they could "
                "replace the directory baker writes into",
                hint=f"chmod g-w {ancestor}, or choose --out below a private directory",
            )


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only, replacing (never following) what is there."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # O_EXCL, 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render(
    resolved: ResolvedEnv,
    manifest: Manifest,
    out_dir: Path,
    *,
    base: str,
    tags: Sequence[str] = (),
    env_layer: bool = True,
) -> RenderedFiles:
    """Write the Dockerfile and (unless `env_layer` is False) the env layer into `out_dir`.

    Without the env layer, no file holding a value is written (the Dockerfile alone).
    """
    args = resolved.build_args()  # in memory only: checked here, written only to the env layer
    labels = {LABEL: to_label(resolved, manifest)} if env_layer else {}
    arg_names = build_arg_names(list(args))
    dockerfile_text, bake_text = render_texts(
        args, base=base, labels=labels, tags=tags, env_layer=env_layer, arg_names=arg_names
    )
    directory = prepare_directory(Path(out_dir))
    files = RenderedFiles(
        directory, directory / DOCKERFILE, directory / BAKE_FILE if env_layer else None, arg_names
    )
    try:
        write_private(files.dockerfile, dockerfile_text)
        if files.bake_file is not None:
            write_private(files.bake_file, bake_text)
    except OSError as exc:
        raise RenderError(f"cannot write into {directory}: {exc.strerror}") from None
    return files

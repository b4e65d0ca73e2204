"""The rules of a `files:` entry that are not its value: the path, `mode`, `uid`, `gid`.  Pure; the
walk over `files:` is in `baker.manifest.checks` (it reads each value as `env:` reads one).

- **Path**: absolute and already normalised (`/run/secrets/tls.pem`: no `//`, `.`, `..` or trailing
  `/`, and not `/` itself), printable (no control character), at most 4096 bytes and 255 a part.
  A part starting with `.wh.` is refused: in a layer it is a whiteout, which deletes the base's file
  of that name.  Paths under `/proc`, `/sys`, `/dev` (the runtime mounts over them: the file would be
  hidden) and `/tmp`, `/var/tmp` (the layer names each parent directory, 0755 root: the sticky,
  world-writable directory would lose its mode) are refused.  One entry's path may not be another's
  parent directory.
- **mode**: octal permission bits as text, `"0400"`, `"440"` (YAML 1.1 would read an unquoted `0400`
  as 256: baker reads the text written, so both spellings mean octal); no setuid, setgid or sticky
  bit.  Default `0444`, root-owned (`uid: 0`, `gid: 0`): Docker's own for secrets, readable by a
  non-root application; tighten it with `mode` and `uid`.
- **uid / gid**: decimal numbers (a name would need the image's /etc/passwd, which a bake never reads).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PATH_MAX = 4096
NAME_MAX = 255
ID_MAX = 2**31 - 1
DEFAULT_MODE = 0o444
FILE_KEYS = ("mode", "uid", "gid")
HIDDEN_UNDER = ("/proc", "/sys", "/dev", "/tmp", "/var/tmp")  # noqa: S108 (paths refused, not used)
_MODE_RE = re.compile(r"0?[0-7]{3}")
_ID_RE = re.compile(r"[0-9]{1,10}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def path_problem(path: str) -> str | None:
    """Why `path` cannot name a baked file (None when it can)."""
    if _CONTROL_RE.search(path):
        return "a file path may not hold a control character (a line break, a tab, NUL)"
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path (write it from the image's root: /run/secrets/...)"
    parts = path[1:].split("/")
    if path == "/" or any(part in ("", ".", "..") for part in parts):
        return (
            f"{path!r} is not a normalised path to a file (no '//', '.', '..' or trailing '/'; "
            "not '/' itself)"
        )
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "a file path must be valid Unicode text"
    if len(encoded) > PATH_MAX or any(len(part.encode("utf-8")) > NAME_MAX for part in parts):
        return f"the path is longer than {PATH_MAX} bytes, or one of its parts than {NAME_MAX}"
    if any(part.startswith(".wh.") for part in parts):
        return (
            "a path part starting with '.wh.' is a whiteout in a layer (it would delete a file of the base)"
        )
    for top in HIDDEN_UNDER:
        if path == top or path.startswith(top + "/"):
            why = (
                "the runtime mounts its own file system there: the file would be hidden"
                if top in ("/proc", "/sys", "/dev")
                else f"the layer names each parent directory 0755 root, and {top} would lose its sticky mode"
            )
            return f"a file under {top} cannot be baked: {why}; choose a path such as /run/secrets/NAME"
    return None


def mode_problem(text: str) -> tuple[int | None, str | None]:
    """The permission bits `text` spells (octal), or why it does not."""
    if not _MODE_RE.fullmatch(text):
        return None, (
            f'mode {text!r} is not octal permission bits such as "0400" or "0440" (no setuid, '
            "setgid or sticky bit)"
        )
    return int(text, 8), None


def id_problem(text: str, what: str) -> tuple[int | None, str | None]:
    """The numeric user or group id `text` spells, or why it does not."""
    if not _ID_RE.fullmatch(text) or int(text) > ID_MAX:
        return None, f"{what} {text!r} is not a numeric id from 0 to {ID_MAX} (names are not read)"
    return int(text), None


def nested(paths: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs (parent, child) where one path is a directory above another: one would be a file and a
    directory at once."""
    taken = set(paths)
    pairs = []
    for path in paths:
        parts = path.split("/")
        for i in range(2, len(parts)):
            parent = "/".join(parts[:i])
            if parent in taken:
                pairs.append((parent, path))
    return pairs


def parents(path: str) -> list[str]:
    """The directories above `path`, outermost first, without `/`: `/run/secrets/x` gives
    `/run`, `/run/secrets`."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(2, len(parts))]


__all__ = [
    "DEFAULT_MODE",
    "FILE_KEYS",
    "id_problem",
    "mode_problem",
    "nested",
    "parents",
    "path_problem",
]

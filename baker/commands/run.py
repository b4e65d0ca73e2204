"""`baker run [-f MANIFEST] -- CMD [ARGS]`: resolve, then become CMD with the values in its
environment (`baker.run`: why an exec, why `files:` are refused).  Prints nothing about values; on
success it prints nothing at all (stdout is CMD's) and never returns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from baker import run as runner
from baker.commands._common import load_manifest, resolve_values
from baker.output import Output


def run(*, out: Output, file: Path, command: Sequence[str]) -> int:
    manifest = load_manifest(out, file)
    argv = list(command[1:] if command[:1] == ["--"] else command)
    runner.preflight(manifest, argv)  # files:, no command, a typo: before any secret is read
    resolved = resolve_values(out, manifest)
    runner.run(manifest, argv, resolved=resolved)

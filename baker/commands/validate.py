"""`baker validate`: check the manifest offline.  Imports neither azure nor docker, and makes no
network call: a bad manifest is reported (every problem at once) by the CLI's error handler."""

from __future__ import annotations

from pathlib import Path

from baker.commands._common import load_manifest
from baker.errors import EXIT_OK
from baker.model import LiteralValue
from baker.output import Output


def validate(*, out: Output, file: Path) -> int:
    manifest = load_manifest(out, file, offline=True)
    literals = sum(1 for entry in manifest.env if isinstance(entry.source, LiteralValue))
    references = len(manifest.env) - literals
    used = manifest.used_credentials
    total = len(manifest.env)
    out.info(
        f"ok: {file}: {total} env var{'' if total == 1 else 's'} ({literals} literal, "
        f"{references} secret reference{'' if references == 1 else 's'}) through {len(used)} "
        f"credential{'' if len(used) == 1 else 's'}"
        + (
            f", and {len(manifest.env_from)} env_from prefix{'' if len(manifest.env_from) == 1 else 'es'} "
            "(names known at bake time)"
            if manifest.env_from
            else ""
        )
        + (f"; {len(manifest.files)} file{'' if len(manifest.files) == 1 else 's'}" if manifest.files else "")
    )
    out.result(
        {
            "ok": True,
            "file": str(file),
            "env": total,
            "literals": literals,
            "references": references,
            "credentials": list(used),
            "env_from": [spec.prefix for spec in manifest.env_from],
            "files": [entry.path for entry in manifest.files],
            "warnings": list(manifest.warnings),
        }
    )
    return EXIT_OK

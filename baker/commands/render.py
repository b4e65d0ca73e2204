"""`baker render --out DIR`: resolve, then write the Dockerfile and the env layer into DIR.

The directory is the hand-over to people with their own tooling: `docker buildx bake -f
DIR/docker-bake.json`, or any Docker API client passing the bake file's `args` and `labels`.
"""

from __future__ import annotations

from pathlib import Path

from baker import render as renderer
from baker.commands._common import check_references, load_manifest, resolve_values
from baker.errors import UsageError
from baker.output import Output
from baker.record import replace


def render(*, out: Output, file: Path, out_dir: Path) -> int:
    manifest = load_manifest(out, file)
    if manifest.image.base is None:
        # FROM must name an image, and `image.build` has none until the app is built.
        raise UsageError(
            "render needs image.from; this manifest builds its base with image.build",
            hint="use `baker build` (it builds the app image, then bakes on it), or build the app "
            "image yourself and name it in image.from",
        )
    base = manifest.image.base
    check_references(base, manifest.image.tags)
    if manifest.files:
        # The rendered directory is a Dockerfile and build args: no layer of files (their values
        # would have to be written into the directory, for a COPY).
        out.warn(
            f"files: are baked only by `baker build` (one layer it adds); the {len(manifest.files)} "
            "file(s) of this manifest are not rendered, and their values not read"
        )
        manifest = replace(manifest, files=())
    resolved = resolve_values(out, manifest)
    files = renderer.render(resolved, manifest, out_dir, base=base, tags=manifest.image.tags)
    names = [entry.env for entry in resolved.entries]
    out.info(f"wrote {files.dockerfile} (no values)")
    out.info(f"wrote {files.bake_file} ({len(names)} values; readable by you only, keep it out of git)")
    out.info(f"build it with: docker buildx bake -f {files.bake_file}")
    out.info("  (or any Docker API client: the bake file's args as build args, its labels as labels)")
    out.result({"out": str(files.directory), "files": [str(p) for p in files.files], "env": names})
    return 0

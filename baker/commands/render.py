"""`baker render --out DIR`: resolve, then write the Dockerfile and the env layer into DIR.

The directory is the hand-over to people with their own tooling: `docker buildx bake -f
DIR/docker-bake.json`, or any Docker API client passing the bake file's `args` and `labels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from baker import manifest as manifest_module
from baker import render as renderer
from baker.errors import RenderError, UsageError
from baker.lifetime import lifetime_warnings
from baker.model import Manifest
from baker.output import Output
from baker.resolver import ResolvedEnv, resolve
from baker.secret import REDACTOR


def load_manifest(out: Output, file: Path) -> Manifest:
    manifest = manifest_module.load(file)
    for warning in manifest.warnings:
        out.warn(warning)
    return manifest


def check_references(base: str | None, tags: Sequence[str]) -> None:
    """A bad base or tag is bad usage (exit 2), found before any vault or engine is asked."""
    try:
        if base is not None:
            renderer.validate_base(base)
        for tag in tags:
            renderer.validate_tag(tag)
    except RenderError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None


def resolve_values(out: Output, manifest: Manifest) -> ResolvedEnv:
    """The resolved values, warning about any too short to be masked in output."""
    resolved = resolve(manifest)
    for label in REDACTOR.short_labels:
        out.warn(f"{label}: the value is too short to mask in output; keep it out of logs yourself")
    seen: set[tuple[str | None, str | None]] = set()
    for entry in resolved.entries:
        props = entry.properties
        if props is None or (props.name, props.version) in seen:
            continue
        seen.add((props.name, props.version))
        for warning in lifetime_warnings(props.name, props):
            out.warn(f"{entry.env}: {warning}")
    return resolved


def render(*, out: Output, file: Path, out_dir: Path) -> int:
    manifest = load_manifest(out, file)
    if manifest.image.base is None:
        # FROM must name an image, and `image.build` has none until the app is built.
        raise UsageError(
            "render needs image.from; this manifest builds its base with image.build",
            hint="use `baker build` (it builds the app image, then bakes on it), or build the app "
            "image yourself and name it in image.from",
        )
    check_references(manifest.image.base, manifest.image.tags)
    resolved = resolve_values(out, manifest)
    files = renderer.render(resolved, manifest, out_dir, base=manifest.image.base, tags=manifest.image.tags)
    names = [entry.env for entry in resolved.entries]
    out.info(f"wrote {files.dockerfile} (no values)")
    out.info(f"wrote {files.bake_file} ({len(names)} values; readable by you only, keep it out of git)")
    out.info(f"build it with: docker buildx bake -f {files.bake_file}")
    out.info("  (or any Docker API client: the bake file's args as build args, its labels as labels)")
    out.result({"out": str(files.directory), "files": [str(p) for p in files.files], "env": names})
    return 0

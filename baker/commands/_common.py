"""What several commands share: loading the manifest (its warnings shown once, the same way
everywhere), checking image references as usage, and resolving with the warnings a person needs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from baker import imageref
from baker.errors import RenderError, UsageError
from baker.lifetime import lifetime_warnings
from baker.manifest import checks as manifest_module
from baker.model import Manifest
from baker.output import Output, untrusted
from baker.resolver import ResolvedEnv, resolve
from baker.secret import REDACTOR

if TYPE_CHECKING:  # a type only: validate and plan import no registry client
    from baker.image.registry.revoke import Revocation


def load_manifest(out: Output, file: Path, *, offline: bool = False) -> Manifest:
    """The manifest, its warnings (an unused credential's unset variable, ...) shown on stderr.
    `offline` (validate, plan) turns a used credential's unset variable into a warning too."""
    manifest = manifest_module.load(file, offline=offline)
    for warning in manifest.warnings:
        out.warn(warning)
    return manifest


def check_references(base: str | None, tags: Sequence[str]) -> None:
    """A bad base or tag is bad usage (exit 2), found before any vault or engine is asked."""
    try:
        if base is not None:
            imageref.validate_base(base)
        for tag in tags:
            imageref.validate_tag(tag)
    except RenderError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None


def resolve_values(out: Output, manifest: Manifest) -> ResolvedEnv:
    """The resolved values, warning about any too short to be masked in output."""
    resolved = resolve(manifest)
    for label in REDACTOR.short_labels:
        out.warn(f"{label}: the value is too short to mask in output; keep it out of logs yourself")
    for warning in resolved.warnings:  # env_from's skipped (disabled) secrets: names, never values
        out.warn(warning)
    seen: set[tuple[str | None, str | None]] = set()
    for entry in resolved.entries:
        for props in (entry.properties, *(p for _, p in entry.parts)):
            if props is None or (props.name, props.version) in seen:
                continue
            seen.add((props.name, props.version))
            for warning in lifetime_warnings(props.name, props):
                out.warn(f"{entry.env}: {warning}")
    return resolved


def print_revocation(out: Output, revocation: Revocation) -> None:
    """`--revoke-superseded`'s outcome (`baker.image.registry.revoke`): what was deleted, what was
    kept and why, and each registry that refused.  Names come from registries: escaped."""
    for item in revocation.revoked:
        out.info(f"revoked {untrusted(item['repository'])}@{item['digest']} (the superseded baked image)")
    for item in revocation.kept:
        out.info(f"kept {untrusted(item['repository'])}@{item['digest']}: {untrusted(item['why'])}")
    for warning in revocation.warnings:
        out.warn(warning)


def no_rebake_due(
    out: Output, manifest: Manifest, image: str, *, skipped: dict[str, object], registry_only: bool = False
) -> bool:
    """`build --if-stale`: whether `image` is current (then `skipped`, with the reason, is the
    result document); either way says why."""
    # guards the offline commands (validate, plan load this module): staleness is build's, not theirs
    from baker.staleness import rebake_due

    decision = rebake_due(manifest, image, registry_only=registry_only)
    for warning in decision.warnings:
        out.warn(warning)
    if decision.due:
        out.info(f"re-bake due: {decision.reason}")
        return False
    out.info(f"{image} is current, no re-bake due: {decision.reason}")
    out.result({**skipped, "skipped": True, "reason": decision.reason})
    return True

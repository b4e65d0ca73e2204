"""What several commands share: loading the manifest (its warnings shown once, the same way
everywhere), checking image references as usage, and resolving with the warnings a person needs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from baker import imageref
from baker.errors import RenderError, UsageError
from baker.manifest import checks as manifest_module
from baker.model import Manifest
from baker.output import Output, untrusted
from baker.resolver import ResolvedEnv, resolve_warned

if TYPE_CHECKING:  # a type only: validate and plan import no registry client
    from baker.image.registry.revoke import Revocation
    from baker.provenance import BaseRecord
    from baker.staleness import RebakeDecision


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
    """The resolved values, warning about any too short to be masked in output, or whose version
    expired or expires soon (`baker.resolver.resolve_warned`)."""
    return resolve_warned(manifest, on_warning=out.warn)


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
) -> RebakeDecision | None:
    """`build --if-stale`: None when `image` is current (then `skipped`, with the reason, is the
    result document), else the decision (with the base the image records); either way says why."""
    # guards the offline commands (validate, plan load this module): staleness is build's, not theirs
    from baker.staleness import rebake_due

    decision = rebake_due(manifest, image, registry_only=registry_only)
    for warning in decision.warnings:
        out.warn(warning)
    if decision.due:
        out.info(f"re-bake due: {decision.reason}")
        return decision
    out.info(f"{image} is current, no re-bake due: {decision.reason}")
    out.result({**skipped, "skipped": True, "reason": decision.reason})
    return None


def rebake_base(out: Output, decision: RebakeDecision | None) -> BaseRecord | None:
    """The base a `--if-stale` re-bake goes onto: the one the image records (a rotation re-bake
    changes the values and nothing else); an image baked before bases were recorded has none, and
    the re-bake reads `image.from` anew (said)."""
    if decision is None or not decision.recorded:
        return None
    if decision.base is None:
        out.info(
            "the image records no base (baked by an earlier baker): re-baking onto image.from as it is now"
        )
    return decision.base

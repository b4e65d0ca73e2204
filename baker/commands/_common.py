"""What several commands share: loading one manifest (its warnings shown once, the same way
everywhere) or many (`-f DIR` expanded, every problem at once), checking image references as usage,
resolving with the warnings a person needs, `build --if-stale`'s opening and a bake's end, for the
engine and the in-registry bake alike."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from baker.cinative import after_build
from baker.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    BakeStopped,
    ManifestError,
    Problem,
    RenderError,
    UsageError,
)
from baker.manifest import checks as manifest_module
from baker.model import Manifest
from baker.output import Output, untrusted

if TYPE_CHECKING:  # types only: validate and plan load no registry client, resolver or check
    from baker.check.compare import RebakeDecision
    from baker.image.registry.revoke import Revocation
    from baker.provenance import BaseRecord
    from baker.resolver import ResolvedEnv

MANIFEST_NAME = "baker.yaml"
SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv"})


def load_manifest(out: Output, file: Path, *, offline: bool = False) -> Manifest:
    """The manifest, its warnings (an unused credential's unset variable, ...) shown on stderr.
    `offline` (validate, plan) turns a used credential's unset variable into a warning too."""
    manifest = manifest_module.load(file, offline=offline)
    for warning in manifest.warnings:
        out.warn(warning)
    return manifest


def expand(paths: Iterable[Path]) -> list[Path]:
    """`-f` arguments as manifest files: a directory stands for every `baker.yaml` below it (sorted,
    never inside .git, node_modules or .venv, symlinked directories not followed)."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        below: list[Path] = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            if MANIFEST_NAME in files:
                below.append(Path(root) / MANIFEST_NAME)
        if not below:
            raise UsageError(
                f"no {MANIFEST_NAME} below {path}",
                hint=f"name the manifests, or a directory holding {MANIFEST_NAME}",
            )
        found.extend(sorted(below, key=lambda p: p.parts))
    return list(dict.fromkeys(found))


def load_all(out: Output, files: Sequence[Path]) -> list[Manifest]:
    """Every manifest (`expand`), loaded before any network call; the problems of all of them at once."""
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    for path in expand(files):
        try:
            manifests.append(load_manifest(out, path))
        except ManifestError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ManifestError(problems)
    return manifests


def check_references(base: str | None, tags: Sequence[str]) -> None:
    """A bad base or tag is bad usage (exit 2), found before any vault or engine is asked."""
    from baker import imageref  # guards validate's and plan's start (issue 17): they check no reference

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
    # Guard: validate and plan load this module and never resolve (nor load the resolver's imports).
    from baker.resolver import resolve_warned

    return resolve_warned(manifest, on_warning=out.warn)


def print_revocation(out: Output, revocation: Revocation) -> None:
    """`--revoke-superseded`'s outcome (`baker.image.registry.revoke`): what was deleted, what was
    kept and why, and each registry that refused.  Names come from registries: escaped."""
    for item in revocation.revoked:
        out.info(f"revoked {untrusted(item['repository'])}@{item['digest']} (the superseded baked image)")
    for item in revocation.kept:
        out.info(f"kept {untrusted(item['repository'])}@{item['digest']}: {untrusted(item['why'])}")
    for warning in revocation.warnings:
        out.warn(untrusted(warning))  # they quote tag names a registry listed
    if not revocation.complete:
        count = len(revocation.not_revoked)
        out.progress(
            f"error: the bake completed, but --revoke-superseded could not finish: {count} superseded "
            "image(s) not revoked (named above)"
        )


def show_decision_warnings(out: Output, decision: RebakeDecision) -> None:
    """A `--if-stale` decision's warnings (names and details from the image's label: escaped)."""
    for warning in decision.warnings:
        out.warn(untrusted(warning))


def reason_of(decision: RebakeDecision) -> str:
    """Why a re-bake is (not) due, fit to print and to put in the result document."""
    return untrusted(decision.reason)


def no_rebake_due(
    out: Output,
    manifest: Manifest,
    if_stale: bool | RebakeDecision,
    names: Sequence[str],
    *,
    skipped: dict[str, object],
    registry_only: bool = False,
) -> tuple[bool, BaseRecord | None]:
    """`build --if-stale`'s opening, for both bakes: whether the (first) tag is current (then
    `skipped`, with the reason, is the result document), and the base a re-bake goes onto (the one
    the image records, `rebake_base`); either way says why.  `if_stale` may be the decision already
    made (`build_fleet` checks every manifest first and warned then)."""
    if not if_stale:
        return False, None
    if not isinstance(if_stale, bool):  # the decision, already made (build_fleet)
        decision = if_stale
    else:
        if not names:
            raise UsageError(
                "--if-stale needs a tag to compare with", hint="set image.tag in the manifest or pass --tag"
            )
        # guards the offline commands (validate, plan load this module): the check is build's, not theirs
        from baker.check.gather import rebake_due

        decision = rebake_due(manifest, names[0], registry_only=registry_only)
        show_decision_warnings(out, decision)
    if decision.due:
        out.info(f"re-bake due: {reason_of(decision)}")
        return False, rebake_base(out, decision)
    out.info(f"{names[0]} is current, no re-bake due: {reason_of(decision)}")
    out.result({**skipped, "skipped": True, "reason": reason_of(decision)})
    after_build(out, digest=None, tags=(), rebaked=False)
    return True, None


def rebake_base(out: Output, decision: RebakeDecision) -> BaseRecord | None:
    """The base a `--if-stale` re-bake goes onto: the one the image records (a rotation re-bake
    changes the values and nothing else); an image baked before bases were recorded has none, and
    the re-bake reads `image.from` anew (said)."""
    if not decision.recorded:
        return None
    if decision.base is None:
        out.info(
            "the image records no base (baked by an earlier baker): re-baking onto image.from as it is now"
        )
    return decision.base


def report_stop(out: Output, stop: KeyboardInterrupt) -> None:
    """The `--json` document of a bake a stop signal ended, on either road: what it left holding
    values and the tags it moved and did not put back (`BakeStopped`; each already named on
    stderr).  Its message says whether no tag moved, some may have, or the bake completed."""
    left = stop.left if isinstance(stop, BakeStopped) else ()
    not_restored = stop.not_restored if isinstance(stop, BakeStopped) else ()
    message = "stopped: no tag moved" if not not_restored else "stopped: some tags may have moved"
    if isinstance(stop, BakeStopped) and stop.completed:
        message = "stopped after the bake completed (the tags moved): its clean-up did not"
    out.result(
        {"error": "Interrupted", "message": message, "left": list(left), "not_restored": list(not_restored)}
    )


def end_bake(
    out: Output,
    document: dict[str, object],
    revocation: Revocation | None,
    *,
    stopped: str,
    digest: str,
    tags: Sequence[str],
) -> int:
    """A bake's last lines, for the engine and the in-registry bake alike: `--revoke-superseded`'s
    outcome, the result document, the CI runner's step outputs (`digest`, `tags`, `rebaked`), and
    the exit code (130 when a stop waited for the bake to complete: `stopped`, when not empty, says
    what completed)."""
    if revocation is not None:
        print_revocation(out, revocation)
        document.update(revocation.to_json())
    out.result(document)
    after_build(out, digest=digest, tags=tags, rebaked=True)
    if stopped:
        out.info(f"stopped: {stopped}")
        return EXIT_INTERRUPTED
    if revocation is not None and not revocation.complete:
        return EXIT_FAILURE  # the bake stands; what was not revoked is named
    return EXIT_OK

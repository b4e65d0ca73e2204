"""`baker build -f A -f B ...` (or `-f DIR`), usually with `--if-stale`: each manifest baked to its own
`image.tag`, one after the other.

With `--if-stale` every image is checked first, all at once (`baker.fleet`: one sign-in per identity,
one read per distinct secret), and exactly the stale ones are baked.  A bake that fails is reported
and the others still run; the exit is 1 when any failed.  `--json`:
`{"built": N, "manifests": [{"file", "image", "skipped", "reason", ...the bake's own document}]}`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

from baker import fleet
from baker.commands._common import rebake_base
from baker.commands.build import build_manifest
from baker.commands.check_fleet import load_all
from baker.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    BakerError,
    ImageNotFound,
    NoRecord,
    UsageError,
)
from baker.logs import scrub
from baker.output import Output, untrusted
from baker.provenance import BaseRecord
from baker.staleness import due_from


def build_many(
    *,
    out: Output,
    files: Sequence[Path],
    tags: Sequence[str],
    push: bool,
    if_stale: bool,
    in_registry: bool,
    revoke_superseded: bool,
    timeout: float | None = None,
) -> int:
    """`timeout`: each `--in-registry` bake's own bound (`--timeout`)."""
    if tags:
        raise UsageError(
            "--tag names one image; with several manifests each is baked to its own image.tag",
            hint="drop --tag, or build one manifest",
        )
    manifests = load_all(out, files)
    items = [(manifest, fleet.image_of(manifest)) for manifest in manifests]
    # (due, why) per manifest: all due without --if-stale; a check that failed is due (the bake
    # then names the failure, as `build --if-stale` does for one manifest).
    plan: list[tuple[bool, str, BaseRecord | None]] = [(True, "", None)] * len(items)
    if if_stale:
        for index, result in enumerate(fleet.check_all(items, registry_only=in_registry)):
            if result.report is not None:
                decision = due_from(result.report, result.record)
                for warning in decision.warnings:
                    out.warn(warning)
                plan[index] = (
                    decision.due,
                    decision.reason,
                    rebake_base(out, decision) if decision.due else None,
                )
            elif isinstance(result.error, (ImageNotFound, NoRecord)):
                plan[index] = (True, result.error.message, None)
            else:
                plan[index] = (True, "the check failed", None)
    documents: list[dict[str, object]] = []
    failed = 0
    interrupted = False
    for (manifest, image), (due, why, recorded) in zip(items, plan, strict=True):
        head: dict[str, object] = {"file": manifest.path, "image": image}
        if not due:
            out.info(f"== {untrusted(manifest.path)}: {untrusted(image)} is current, no re-bake due: {why}")
            documents.append({**head, "skipped": True, "reason": why})
            continue
        out.info(f"== {untrusted(manifest.path)}: baking {untrusted(image)}")
        captured = io.StringIO()
        sub = Output(
            json_mode=out.json_mode,
            stdout=captured if out.json_mode else out.stdout,
            stderr=out.stderr,
            redactor=out.redactor,
        )
        try:
            code = build_manifest(
                out=sub,
                manifest=manifest,
                tags=(),
                push=push,
                if_stale=why if if_stale else False,
                in_registry=in_registry,
                revoke_superseded=revoke_superseded,
                timeout=timeout,
                recorded=recorded,
            )
        except BakerError as exc:
            failed += 1
            out.progress(scrub(f"error: {exc.message}"))
            if exc.hint:
                out.progress(scrub(f"hint: {exc.hint}"))
            documents.append({**head, "skipped": False, "error": exc.to_json()})
            continue
        interrupted = interrupted or code == EXIT_INTERRUPTED
        baked = json.loads(captured.getvalue()) if out.json_mode else {}
        documents.append({**head, "skipped": False, **baked})
        if interrupted:
            break  # a stop: the bake in hand completed, the next ones do not start
    built = sum(1 for d in documents if d.get("skipped") is False and "error" not in d)
    out.info(f"{len(items)} manifests: {built} baked, {failed} failed, {len(items) - built - failed} skipped")
    out.result({"built": built, "manifests": documents})
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILURE if failed else EXIT_OK

"""`baker build -f A -f B ...` (or `-f DIR`), usually with `--if-stale`: each manifest baked to its own
`image.tag`, one after the other.

With `--if-stale` every image is checked first, all at once (`baker.check.gather`: one sign-in per identity,
one read per distinct secret), and exactly the stale ones are baked.  A bake that fails is reported
and the others still run; the exit is 1 when any failed.  `--json`:
`{"built": N, "manifests": [{"file", "image", "skipped", "reason", ...the bake's own document}]}`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

from baker.check.compare import RebakeDecision
from baker.check.gather import decide_all, image_of
from baker.cinative import after_build
from baker.commands._common import load_all, reason_of, show_decision_warnings
from baker.commands.build import build_manifest, refuse_timeout_without_in_registry
from baker.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, BakerError, UsageError
from baker.image.inregistry import BAKE_DEADLINE
from baker.output import Output, untrusted


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
    """`files`: several manifests (or a directory), each baked to its own `image.tag`.  `timeout`:
    each `--in-registry` bake's own bound (`--timeout`, for `--in-registry` only)."""
    refuse_timeout_without_in_registry(timeout=timeout, in_registry=in_registry)
    if tags:
        raise UsageError(
            "--tag names one image; with several manifests each is baked to its own image.tag",
            hint="drop --tag, or build one manifest",
        )
    manifests = load_all(out, files)
    items = [(manifest, image_of(manifest)) for manifest in manifests]
    # All due without --if-stale; with it, a check that failed is due (the bake then names the
    # failure, as `build --if-stale` does for one manifest).
    plan = (
        decide_all(items, registry_only=in_registry) if if_stale else [RebakeDecision(True, "")] * len(items)
    )
    for decision in plan:
        show_decision_warnings(out, decision)
    documents: list[dict[str, object]] = []
    failed = 0
    interrupted = False
    unfinished = False
    for (manifest, image), decision in zip(items, plan, strict=True):
        head: dict[str, object] = {"file": manifest.path, "image": image}
        if not decision.due:
            why = reason_of(decision)
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
                if_stale=decision if if_stale else False,
                in_registry=in_registry,
                revoke_superseded=revoke_superseded,
                timeout=BAKE_DEADLINE if timeout is None else timeout,
            )
        except BakerError as exc:
            failed += 1
            out.error(exc.message, exc.hint)
            documents.append({**head, "skipped": False, "error": exc.to_json()})
            continue
        interrupted = interrupted or code == EXIT_INTERRUPTED
        unfinished = unfinished or code == EXIT_FAILURE  # baked, its --revoke-superseded unfinished
        baked = json.loads(captured.getvalue()) if out.json_mode else {}
        documents.append({**head, "skipped": False, **baked})
        if interrupted:
            break  # a stop: the bake in hand completed, the next ones do not start
    done = [d for d in documents if d.get("skipped") is False and "error" not in d]
    built = len(done)
    out.info(f"{len(items)} manifests: {built} baked, {failed} failed, {len(items) - built - failed} skipped")
    out.result({"built": built, "manifests": documents})
    # One set of step outputs for the run (each bake's own Output speaks to no runner): no one digest.
    after_build(out, digest=None, tags=[str(d["image"]) for d in done], rebaked=bool(done))
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILURE if failed or unfinished else EXIT_OK

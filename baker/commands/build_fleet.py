"""`baker build -f A -f B ...` (or `-f DIR`), usually with `--if-stale`: each manifest baked to its own
`image.tag`, one after the other.

With `--if-stale` every image is checked first, all at once (`baker.check.gather`: one sign-in per identity,
one read per distinct secret), and exactly the stale ones are baked.  Before that check reads any
secret, each manifest's tags are checked as its bake would check them (`commands.build.check_first`):
a manifest refused there is reported failed and not checked (no registry, no secret fetched).  A bake
that fails is reported and the others still run; the exit is 1 when any failed.  `--json`:
`{"built": N, "manifests": [{"file", "image", "skipped", "reason", ...the bake's own document}]}`.
A stop ends the fleet after the bake in hand (130): the document names the manifests done, and the
stopped bake's entry holds its stop document (`error`: what it left, the tags it moved).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

from baker import fanout
from baker.check.compare import RebakeDecision
from baker.check.gather import MAX_WORKERS, decide_all, image_of
from baker.cinative import after_build
from baker.commands._common import load_all, reason_of, show_decision_warnings
from baker.commands.build import build_manifest, check_first, refuse_timeout_without_in_registry, tag_names
from baker.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, BakerError, UsageError
from baker.image.bake import CheckedTags
from baker.image.inregistry import BAKE_DEADLINE, CheckedTargets
from baker.model import Manifest
from baker.output import Output, untrusted

Checked = CheckedTags | CheckedTargets | BakerError | None


def _checked_first(
    manifests: Sequence[Manifest],
    *,
    push: bool,
    in_registry: bool,
    revoke_superseded: bool,
    timeout: float,
) -> list[Checked]:
    """Each manifest's tags checked as its bake checks them (`check_first`), before the fleet's
    staleness check reads any secret; a refusal is that manifest's outcome.  On the check's pool."""

    def one(manifest: Manifest) -> CheckedTags | CheckedTargets:
        names = tag_names(
            manifest, (), push=push, in_registry=in_registry, revoke_superseded=revoke_superseded
        )
        return check_first(
            manifest,
            names,
            push=push,
            in_registry=in_registry,
            revoke_superseded=revoke_superseded,
            timeout=timeout,
        )

    return list(fanout.each(manifests, one, workers=MAX_WORKERS, keep=BakerError, name="baker-tags"))


def _decided(
    items: Sequence[tuple[Manifest, str]], checks: Sequence[Checked], *, registry_only: bool
) -> list[RebakeDecision]:
    """The fleet's staleness check (`decide_all`) of the manifests whose tags passed, in order; a
    check that failed is due (the bake then names the failure, as `build --if-stale` does for one
    manifest).  A manifest refused before is not checked (its decision is not read)."""
    ready = [item for item, check in zip(items, checks, strict=True) if not isinstance(check, BakerError)]
    decided = iter(decide_all(ready, registry_only=registry_only) if ready else [])
    return [RebakeDecision(True, "") if isinstance(check, BakerError) else next(decided) for check in checks]


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
    timeout = BAKE_DEADLINE if timeout is None else timeout
    checks: list[Checked] = [None] * len(items)
    plan = [RebakeDecision(True, "")] * len(items)  # all due without --if-stale
    if if_stale:
        # Each manifest's tags first (no registry, no secret fetched): one refused is not checked.
        checks = _checked_first(
            manifests,
            push=push,
            in_registry=in_registry,
            revoke_superseded=revoke_superseded,
            timeout=timeout,
        )
        plan = _decided(items, checks, registry_only=in_registry)
    for decision in plan:
        show_decision_warnings(out, decision)
    documents: list[dict[str, object]] = []
    failed = 0
    interrupted = False
    stopped_in = False  # a stop ended a bake (its entry holds its stop document)
    unfinished = False
    for (manifest, image), decision, check in zip(items, plan, checks, strict=True):
        head: dict[str, object] = {"file": manifest.path, "image": image}
        if isinstance(check, BakerError):  # refused before the check: not checked, not baked
            failed += 1
            out.info(f"== {untrusted(manifest.path)}: {untrusted(image)} not checked: its tags were refused")
            out.error(check.message, check.hint)
            documents.append({**head, "skipped": False, "error": check.to_json()})
            continue
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
                timeout=timeout,
                checked=check,
            )
        except BakerError as exc:
            failed += 1
            out.error(exc.message, exc.hint)
            documents.append({**head, "skipped": False, "error": exc.to_json()})
            continue
        except KeyboardInterrupt:  # the bake wrote its stop document (`report_stop`): the fleet's holds it
            stopped = _stopped(captured.getvalue() if out.json_mode else "")
            documents.append({**head, "skipped": False, **stopped})
            out.info(f"stopped during {untrusted(manifest.path)}: the manifests after it were not baked")
            stopped_in = "error" in stopped  # else it completed before the stop escaped
            interrupted = True
            break
        interrupted = interrupted or code == EXIT_INTERRUPTED
        unfinished = unfinished or code == EXIT_FAILURE  # baked, its --revoke-superseded unfinished
        baked = json.loads(captured.getvalue()) if out.json_mode else {}
        documents.append({**head, "skipped": False, **baked})
        if interrupted:
            break  # a stop: the bake in hand completed, the next ones do not start
    done = [d for d in documents if d.get("skipped") is False and "error" not in d]
    built = len(done)
    halted = int(stopped_in)  # the bake a stop ended: neither baked nor failed nor skipped
    counts = f"{built} baked, {failed} failed, {len(items) - built - failed - halted} skipped"
    out.info(f"{len(items)} manifests: {counts}" + (", 1 stopped" if halted else ""))
    out.result({"built": built, "manifests": documents})
    # One set of step outputs for the run (each bake's own Output speaks to no runner): no one digest.
    after_build(out, digest=None, tags=[str(d["image"]) for d in done], rebaked=bool(done))
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILURE if failed or unfinished else EXIT_OK


def _stopped(written: str) -> dict[str, object]:
    """A stopped bake's entry in the fleet's document: `error` holding what its stop document says
    (`commands._common.report_stop`: what it left, the tags it moved), or its own result when it
    completed and wrote it before the stop escaped."""
    try:
        document = json.loads(written) if written.strip() else None
    except ValueError:  # cut short while it was written
        document = None
    if isinstance(document, dict) and "error" not in document:
        return document  # it completed
    if not isinstance(document, dict):  # stopped before its bake said anything
        document = {"error": "Interrupted", "message": "stopped", "left": [], "not_restored": []}
    return {"error": document}

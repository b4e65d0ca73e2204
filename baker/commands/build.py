"""`baker build`: load, check the names, call the pipeline (`baker.pipeline.build`, or the
in-registry one), print what it did, and the exit code.  The order of the steps (connect, resolve,
build the app, bake) is the pipeline's, not this module's.

The CLI sends several `-f` (or a directory) to `commands.build_fleet`, which bakes each due manifest
through `build_manifest`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from baker import pipeline
from baker.commands._common import (
    check_references,
    end_bake,
    load_manifest,
    no_rebake_due,
    report_stop,
)
from baker.errors import UsageError
from baker.image.bake import refuse_revoke_without_push
from baker.model import Manifest
from baker.output import Output

if TYPE_CHECKING:  # a type only: the check's modules load when a check runs (process start)
    from baker.check.compare import RebakeDecision


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def build(
    *,
    out: Output,
    file: Path,
    tags: list[str],
    push: bool,
    if_stale: bool,
    in_registry: bool = False,
    timeout: float | None = None,
    revoke_superseded: bool = False,
) -> int:
    """`timeout`: `--timeout`, for `--in-registry` only."""
    refuse_timeout_without_in_registry(timeout=timeout, in_registry=in_registry)
    manifest = load_manifest(out, file)
    return build_manifest(
        out=out,
        manifest=manifest,
        tags=tags,
        push=push,
        if_stale=if_stale,
        in_registry=in_registry,
        revoke_superseded=revoke_superseded,
        timeout=timeout,
    )


def refuse_timeout_without_in_registry(*, timeout: float | None, in_registry: bool) -> None:
    """Before any manifest is read, for one or many."""
    if timeout is not None and not in_registry:
        raise UsageError(
            "--timeout bounds an --in-registry bake; the engine bake has its own bounds",
            hint="add --in-registry, or drop --timeout",
        )


def build_manifest(
    *,
    out: Output,
    manifest: Manifest,
    tags: Sequence[str],
    push: bool,
    if_stale: bool | RebakeDecision,
    in_registry: bool = False,
    revoke_superseded: bool = False,
    timeout: float | None = None,
) -> int:
    """`build` for a loaded manifest.  `if_stale` may be the decision, already made (`build_fleet`):
    then the image is not checked again; a re-bake goes onto the base the image records.
    `timeout` bounds an `in_registry` bake (`build` refuses `--timeout` without `--in-registry`)."""
    # `--tag` overrides the manifest's `image.tag`; repeated, it adds more.  So a CI job that passes
    # `--tag "$IMAGE"` bakes, pushes and (with --if-stale) checks exactly that name.
    names = _unique(tags) if tags else _unique(manifest.image.tags)
    if in_registry:  # no engine contacted on that path (baker.image.inregistry)
        # Imported here: the engine bake never loads the registry road's modules (process start).
        from baker.commands.build_inregistry import build_in_registry
        from baker.image.inregistry import BAKE_DEADLINE

        return build_in_registry(
            out=out,
            manifest=manifest,
            names=names,
            if_stale=if_stale,
            revoke_superseded=revoke_superseded,
            timeout=BAKE_DEADLINE if timeout is None else timeout,
        )
    check_references(manifest.image.base, names)
    if push and not names:
        raise UsageError("--push needs a tag", hint="set image.tag in the manifest or pass --tag")
    refuse_revoke_without_push(push=push, revoke_superseded=revoke_superseded)
    skipped: dict[str, object] = {"image_id": None, "tags": [], "pushed": [], "removed": []}
    skip, recorded = no_rebake_due(out, manifest, if_stale, names, skipped=skipped)
    if skip:
        return 0
    try:
        result = pipeline.build(
            manifest,
            tags=names,
            push=push,
            on_line=out.progress,
            on_warning=out.warn,
            revoke_superseded=revoke_superseded,
            recorded=recorded,
        )
    except KeyboardInterrupt as stop:  # the bake named what it left; the document says it too
        report_stop(out, stop)
        raise
    out.info(f"built {result.image_id}")
    for name in result.tags:
        out.info(f"tagged {name}")
    for item in result.pushed:
        out.info(f"pushed {item.tag} ({item.digest})")
    for image_id in result.removed:
        out.info(f"removed the previous baked image {image_id} (untagged, held old values)")
    for image_id in result.refused:
        out.info(
            f"kept the previous baked image {image_id}: untagged, it holds the old values, and the engine "
            f"refused to remove it (a container uses it); remove it with `docker image rm {image_id}` "
            "once that container is gone"
        )
    if not result.tags:
        out.info(
            f"the image is untagged and holds the values: remove it with `docker image rm {result.image_id}`"
            " when done, or pass --tag (or set image.tag) to name it"
        )
    document: dict[str, object] = {
        "image_id": result.image_id,
        "tags": list(result.tags),
        "pushed": [{"tag": p.tag, "digest": p.digest} for p in result.pushed],
        "removed": list(result.removed),
        "left": list(result.refused),
    }
    stopped = "the bake completed first (tags moved, clean-up done)" if result.stopped else ""
    digest = result.pushed[0].digest if result.pushed else result.image_id
    return end_bake(out, document, result.revocation, stopped=stopped, digest=digest, tags=result.tags)

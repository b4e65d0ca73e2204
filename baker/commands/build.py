"""`baker build`: load, check the names, call the pipeline (`baker.pipeline.build`, or the
in-registry one), print what it did, and the exit code.  The order of the steps (connect, resolve,
build the app, bake) is the pipeline's, not this module's.

With `--if-stale`, the checks a bake makes of its tags (and the registries' answers they need) are
made first (`check_first`), before the staleness check reads any secret, and handed to the pipeline.

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
from baker.image.bake import CheckedTags, check_tags, refuse_revoke_without_push
from baker.model import Manifest
from baker.output import Output

if TYPE_CHECKING:  # types only: the check's and the registry road's modules load when run (process start)
    from baker.check.compare import RebakeDecision
    from baker.image.inregistry import CheckedTargets


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


def tag_names(
    manifest: Manifest, tags: Sequence[str], *, push: bool, in_registry: bool, revoke_superseded: bool
) -> list[str]:
    """The names a bake goes to, checked as usage (exit 2) before any vault, engine or registry is
    asked, on either road."""
    # `--tag` overrides the manifest's `image.tag`; repeated, it adds more.  So a CI job that passes
    # `--tag "$IMAGE"` bakes, pushes and (with --if-stale) checks exactly that name.
    names = _unique(tags) if tags else _unique(manifest.image.tags)
    check_references(manifest.image.base, names)
    if in_registry:
        # Imported here: the engine bake never loads the registry road's modules (process start).
        from baker.image import inregistry

        if not names:
            raise UsageError(
                "--in-registry needs a tag to push to", hint="set image.tag in the manifest or pass --tag"
            )
        for name in names:
            inregistry.target(name)  # a digest or a bad name: usage, before any network call
        return names
    if push and not names:
        raise UsageError("--push needs a tag", hint="set image.tag in the manifest or pass --tag")
    refuse_revoke_without_push(push=push, revoke_superseded=revoke_superseded)
    return names


def check_first(
    manifest: Manifest,
    names: Sequence[str],
    *,
    push: bool,
    in_registry: bool,
    revoke_superseded: bool,
    timeout: float | None = None,
) -> CheckedTags | CheckedTargets:
    """`build --if-stale`'s first step, for one manifest or each of a fleet's: the checks the bake
    makes of its tags and the registries' answers they need (the engine road's `check_tags`: a push
    to two or more registries taken by each, `--revoke-superseded`'s first read; the registry
    road's `check_targets`: what each tag names now, with the push's credentials), made before the
    staleness check reads any secret (each answer carries its value): no registry, no secret
    fetched.  Handed to the pipeline (`checked=`), which does not make them again.  `names`:
    `tag_names`; `timeout`: the in-registry bake's (None: `inregistry.BAKE_DEADLINE`)."""
    if in_registry:
        # Imported here: the engine bake never loads the registry road's modules (process start).
        from baker.image.inregistry import BAKE_DEADLINE, check_targets

        deadline = BAKE_DEADLINE if timeout is None else timeout
        return check_targets(manifest, names, revoke_superseded=revoke_superseded, timeout=deadline)
    return check_tags(manifest, names, push=push, revoke_superseded=revoke_superseded)


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
    checked: CheckedTags | CheckedTargets | None = None,
) -> int:
    """`build` for a loaded manifest.  `if_stale` may be the decision, already made (`build_fleet`):
    then the image is not checked again; a re-bake goes onto the base the image records.
    `timeout` bounds an `in_registry` bake (`build` refuses `--timeout` without `--in-registry`).
    `checked`: `check_first`, made before the decision (`build_fleet`); with `if_stale` True it is
    made here, before the staleness check."""
    names = tag_names(manifest, tags, push=push, in_registry=in_registry, revoke_superseded=revoke_superseded)
    if if_stale is True and checked is None:  # before the staleness check reads any secret
        checked = check_first(
            manifest,
            names,
            push=push,
            in_registry=in_registry,
            revoke_superseded=revoke_superseded,
            timeout=timeout,
        )
    if in_registry:  # no engine contacted on that path (baker.image.inregistry)
        # Imported here: the engine bake never loads the registry road's modules (process start).
        from baker.commands.build_inregistry import build_in_registry
        from baker.image.inregistry import BAKE_DEADLINE, CheckedTargets

        return build_in_registry(
            out=out,
            manifest=manifest,
            names=names,
            if_stale=if_stale,
            revoke_superseded=revoke_superseded,
            timeout=BAKE_DEADLINE if timeout is None else timeout,
            checked=checked if isinstance(checked, CheckedTargets) else None,
        )
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
            checked=checked if isinstance(checked, CheckedTags) else None,
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

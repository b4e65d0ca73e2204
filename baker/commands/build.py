"""`baker build`: load, check the names, resolve, call `baker.image.bake.bake` (or the in-registry
bake), print what it did, and the exit code.  The pipeline itself lives in `baker.image.bake`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from baker import signals
from baker.commands._common import check_references, load_manifest, resolve_values
from baker.commands.build_inregistry import build_in_registry
from baker.errors import EXIT_INTERRUPTED, UsageError
from baker.image import engine
from baker.image.bake import bake
from baker.image.inregistry import BAKE_DEADLINE
from baker.output import Output
from baker.staleness import rebake_due


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
) -> int:
    manifest = load_manifest(out, file)
    # `--tag` overrides the manifest's `image.tag`; repeated, it adds more.  So a CI job that passes
    # `--tag "$IMAGE"` bakes, pushes and (with --if-stale) checks exactly that name.
    names = _unique(tags) if tags else _unique(manifest.image.tags)
    if in_registry:  # no engine contacted on that path (baker.image.inregistry)
        return build_in_registry(
            out=out,
            manifest=manifest,
            names=names,
            if_stale=if_stale,
            timeout=BAKE_DEADLINE if timeout is None else timeout,
        )
    if timeout is not None:
        raise UsageError(
            "--timeout bounds an --in-registry bake; the engine bake has its own bounds",
            hint="add --in-registry, or drop --timeout",
        )
    check_references(manifest.image.base, names)
    if push and not names:
        raise UsageError("--push needs a tag", hint="set image.tag in the manifest or pass --tag")
    if if_stale:
        if not names:
            raise UsageError(
                "--if-stale needs a tag to compare with",
                hint="set image.tag in the manifest or pass --tag",
            )
        decision = rebake_due(manifest, names[0])
        for warning in decision.warnings:
            out.warn(warning)
        due, reason = decision.due, decision.reason
        if not due:
            out.info(f"{names[0]} is current, no re-bake due: {reason}")
            out.result(
                {"image_id": None, "tags": [], "pushed": [], "removed": [], "skipped": True, "reason": reason}
            )
            return 0
        out.info(f"re-bake due: {reason}")
    client = engine.connect()  # before any secret is read: no engine, no fetch
    # Signals wait for a clean point: an interrupt inside the fetch threads' locking could hang.
    resolved = signals.run_stoppable(lambda: resolve_values(out, manifest))
    result = bake(manifest, resolved, tags=names, push=push, on_line=out.progress, client=client)
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
    out.result(
        {
            "image_id": result.image_id,
            "tags": list(result.tags),
            "pushed": [{"tag": p.tag, "digest": p.digest} for p in result.pushed],
            "removed": list(result.removed),
            "left": list(result.refused),
        }
    )
    if result.stopped:
        out.info("stopped: the bake completed first (tags moved, clean-up done)")
        return EXIT_INTERRUPTED
    return 0

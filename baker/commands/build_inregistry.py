"""`baker build --in-registry`: the command around `baker.pipeline.build_in_registry`.

No Docker engine is asked anything on this path (not for `--if-stale` either), except to build the
app for `image.build` (with `image.build.push`): the base is read from its registry (or the app's
push target proven) before any secret is, then the values are resolved, (the app built and pushed,)
baked and pushed.
"""

from __future__ import annotations

from collections.abc import Sequence

from baker import pipeline
from baker.check.compare import RebakeDecision
from baker.commands._common import end_bake, no_rebake_due, report_stop
from baker.image import inregistry
from baker.image.inregistry import CheckedTargets
from baker.model import Manifest
from baker.output import Output, untrusted
from baker.provenance import BaseRecord


def build_in_registry(
    *,
    out: Output,
    manifest: Manifest,
    names: Sequence[str],
    if_stale: bool | RebakeDecision,
    revoke_superseded: bool = False,
    timeout: float = inregistry.BAKE_DEADLINE,
    checked: CheckedTargets | None = None,
) -> int:
    """`names`: checked as usage (`commands.build.tag_names`).  `if_stale` may be the decision,
    already made (`build_fleet`); a re-bake goes onto the base the image records.  `checked`: the
    tags' checks, made before the staleness check (`commands.build.check_first`)."""
    skipped: dict[str, object] = {"digest": None, "tags": [], "platforms": [], "pushed": []}
    skip, recorded = no_rebake_due(out, manifest, if_stale, names, skipped=skipped, registry_only=True)
    if skip:
        return 0
    try:
        return _bake(
            out,
            manifest,
            names,
            timeout=timeout,
            revoke_superseded=revoke_superseded,
            recorded=recorded,
            checked=checked,
        )
    except KeyboardInterrupt as stop:  # the bake named what it left; the document says it too
        report_stop(out, stop)
        raise


def _bake(
    out: Output,
    manifest: Manifest,
    names: Sequence[str],
    *,
    timeout: float,
    revoke_superseded: bool,
    recorded: BaseRecord | None,
    checked: CheckedTargets | None,
) -> int:
    # The pipeline says which recorded base it re-bakes onto, once it is tied to the manifest.
    # The pipeline reads the base (or proves the app's push target) before any secret is resolved.
    result = pipeline.build_in_registry(
        manifest,
        tags=names,
        on_line=out.progress,
        on_warning=out.warn,
        timeout=timeout,
        revoke_superseded=revoke_superseded,
        recorded=recorded,
        checked=checked,
    )
    out.info(f"baked {result.digest} ({untrusted(', '.join(result.platforms))})")
    for item in result.pushed:
        out.info(f"pushed {item.tag} ({item.digest})")
    document: dict[str, object] = {
        "digest": result.digest,
        "media_type": result.media_type,
        "tags": list(result.tags),
        "platforms": list(result.platforms),
        "pushed": [{"tag": p.tag, "digest": p.digest} for p in result.pushed],
        "left": [],
    }
    stopped = "the bake completed first (every tag moved)" if result.stopped else ""
    return end_bake(out, document, result.revocation, stopped=stopped, digest=result.digest, tags=result.tags)

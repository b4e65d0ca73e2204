"""`baker build`: resolve, render into a private temporary directory, build, tag, push.

`bake()` is the Python API (a CI script can call it); `build()` is the command around it.

No file holding a value is written: the private directory gets the Dockerfile only (the values go
to the engine as build args), and it is removed on success, failure and Ctrl-C alike. Unless the
bake succeeded, no tag is created or moved: the image is built untagged, tagged once everything
else worked, and the local tags are put back when a push fails.  A registry tag cannot be taken
back, so when the tags name two or more registries (or repositories), each is asked before anything
is built whether it would take the push (`registry.check_push`); a push that fails anyway, mid-way,
names the tags already pushed.

After a bake that succeeded, a previous baked image that lost its last tag to it (it holds the old
values) is removed, when baker baked it and no container uses it.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baker import builder, registry
from baker import render as renderer
from baker.commands._common import check_references, load_manifest, resolve_values
from baker.errors import EngineError, ImageError, UsageError
from baker.model import Manifest, SecretRef
from baker.output import Output
from baker.provenance import BAKE_ID_LABEL, LABEL, to_label
from baker.resolver import ResolvedEnv
from baker.secret import Secret


@dataclass(frozen=True)
class BakeResult:
    image_id: str
    tags: tuple[str, ...]
    pushed: tuple[builder.Pushed, ...]
    removed: tuple[str, ...] = ()  # previous baked images removed: untagged, they held old values


def _app_image(manifest: Manifest, on_line: Callable[[str], None], client: Any) -> str:
    """`image.build`: the user's own image, built untagged with their context and Dockerfile."""
    spec = manifest.image.build
    assert spec is not None
    context = Path(manifest.path).parent / spec.context
    on_line(f"building the app image from {context} ({spec.dockerfile})")
    return builder.build_image(
        context,
        build_args=dict(spec.args),
        labels={},
        on_line=on_line,
        dockerfile=spec.dockerfile,
        target=spec.target,
        # The app's own RUN steps may need the network, as with `docker build`.
        network_mode=None,
        client=client,
    )


def bake(
    manifest: Manifest,
    resolved: ResolvedEnv,
    *,
    tags: Sequence[str],
    push: bool,
    on_line: Callable[[str], None],
    client: Any = None,
) -> BakeResult:
    """Build the baked image (after the app image, for `image.build`), tag it, and push the tags."""
    for name in tags:
        renderer.validate_tag(name)
    if manifest.image.base is not None:
        renderer.validate_base(manifest.image.base)
    if push:
        _check_push_access(tags)  # before anything is built: a refusal then leaves nothing behind
    client = client if client is not None else builder.connect()
    created: list[str] = []
    undo: builder.TagUndo = ()
    pushed: list[builder.Pushed] = []
    bake_id = uuid.uuid4().hex  # labels every image this bake makes (see provenance.BAKE_ID_LABEL)
    base_id: str | None = None
    workdir = Path(tempfile.mkdtemp(prefix="baker-build-"))  # 0700
    try:
        if manifest.image.build is not None:
            base = _app_image(manifest, on_line, client)
            created.append(base)
        else:
            assert manifest.image.base is not None
            base = manifest.image.base
        base_info = builder.ensure_image(base, on_line, client=client)
        base_id = base_info.id
        _refuse_onbuild(base, base_info)
        files = renderer.render(
            resolved, manifest, workdir, base=base, tags=tags, env_layer=False, bake_id=bake_id
        )
        if builder.engine_logs_requests(client=client):
            on_line(
                "warning: the Docker engine runs in debug mode and logs each request URL; the build "
                "args (the values) travel in the build request's URL, so its log will hold them "
                "(turn debug off in daemon.json, or keep that log private)"
            )
        on_line(f"baking {len(resolved.entries)} values onto {base}")
        image_id = builder.build_image(
            files.directory,
            build_args=_engine_args(resolved, files.arg_names),
            labels={LABEL: to_label(resolved, manifest)},
            on_line=on_line,
            dockerfile=files.dockerfile.name,
            dockerfile_only=True,
            bake=(bake_id, base_id),
            client=client,
        )
        created.append(image_id)
        undo = builder.tag(image_id, tags, client=client)
        for name in tags if push else ():
            pushed.append(builder.Pushed(name, builder.push(name, on_line, client=client)))
    except BaseException as exc:
        builder.restore_tags(undo, client=client)
        # Never pruning: a parent may be the user's own untagged base.  The bake's own steps go by
        # their label, whatever the stream reported (after the ENV step they hold values).
        for image in reversed(created):
            builder.remove_image(image, client=client, noprune=True)
        if base_id is not None:
            builder.remove_labelled(BAKE_ID_LABEL, bake_id, base=base_id, client=client)
        if pushed:
            if isinstance(exc, EngineError):
                raise builder.PushIncomplete(exc, pushed) from None
            listed = ", ".join(f"{p.tag} ({p.digest})" for p in pushed)
            on_line(f"already pushed, cannot be taken back: {listed}")  # Ctrl-C, or a bug
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    removed = _remove_previous(undo, image_id, client)
    return BakeResult(image_id=image_id, tags=tuple(tags), pushed=tuple(pushed), removed=removed)


def _check_push_access(tags: Sequence[str]) -> None:
    """With two or more push targets, each registry (and repository) must take the push before the
    first one is pushed: a tag pushed to one registry cannot be taken back when the next refuses.

    With a single target there is no partial state to avoid (a refused push creates nothing), and
    the check is skipped: it runs from baker's machine, not the engine's, so it could refuse a push
    the engine itself can make (a remote DOCKER_HOST whose `localhost:5000` is not ours, a registry
    the engine lists in `insecure-registries`)."""
    targets: dict[tuple[str, str], str] = {}
    for name in tags:
        target = registry.push_target(name)
        targets.setdefault((target.host, target.repository), name)
    if len(targets) < 2:
        return
    for name in targets.values():
        try:
            registry.check_push(name)
        except ImageError as exc:
            host = name.partition("/")[0] if registry.names_registry(name) else "docker.io"
            raise EngineError(f"cannot push to {host}: {exc.message}", hint=exc.hint) from None


def _remove_previous(undo: builder.TagUndo, image_id: str, client: Any) -> tuple[str, ...]:
    """Best effort: remove each bake output a tag of this bake pointed at before, when it is now
    untagged, with its own steps (they hold the old values).  Only a bake's output qualifies, not an
    image someone built FROM it; one a container uses stays (the engine refuses without `force`)."""
    removed: list[str] = []
    for previous in dict.fromkeys(before for _, before in undo if before is not None and before != image_id):
        if builder.remove_superseded(previous, LABEL, client=client):
            removed.append(previous)
    return tuple(removed)


def _refuse_onbuild(base: str, info: builder.ImageInfo) -> None:
    """ONBUILD triggers run inside the bake, where every value is a build argument within their
    reach (an `ONBUILD ARG` sees it; an `ONBUILD RUN` can print or store it)."""
    if info.onbuild:
        raise EngineError(
            f"the base image {base} has ONBUILD triggers ({len(info.onbuild)}); they would run during "
            "the bake with the values in reach",
            hint="bake on an image without ONBUILD instructions (build one FROM this base first)",
        )


def _engine_args(resolved: ResolvedEnv, arg_names: Mapping[str, str]) -> dict[str, Secret | str]:
    """Build args keyed by the names the rendered Dockerfile declares (never the env names: a base's
    ENV of the same name would win).  Values from Key Vault stay `Secret` until the engine call;
    literals (from git) are plain."""
    return {
        arg_names[entry.env]: entry.value if isinstance(entry.source, SecretRef) else entry.value.reveal()
        for entry in resolved.entries
    }


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def build(
    *, out: Output, file: Path, tags: list[str], push: bool, if_stale: bool, in_registry: bool = False
) -> int:
    manifest = load_manifest(out, file)
    # `--tag` overrides the manifest's `image.tag`; repeated, it adds more.  So a CI job that passes
    # `--tag "$IMAGE"` bakes, pushes and (with --if-stale) checks exactly that name.
    names = _unique(tags) if tags else _unique(manifest.image.tags)
    if in_registry:  # no engine at all on that path (baker.inregistry)
        from baker.commands.build_inregistry import build_in_registry

        return build_in_registry(out=out, manifest=manifest, names=names, if_stale=if_stale)
    check_references(manifest.image.base, names)
    if push and not names:
        raise UsageError("--push needs a tag", hint="set image.tag in the manifest or pass --tag")
    if if_stale:
        if not names:
            raise UsageError(
                "--if-stale needs a tag to compare with",
                hint="set image.tag in the manifest or pass --tag",
            )
        from baker.staleness import rebake_due

        due, reason = rebake_due(manifest, names[0], out=out)
        if not due:
            out.info(f"{names[0]} is current, no re-bake due: {reason}")
            out.result(
                {"image_id": None, "tags": [], "pushed": [], "removed": [], "skipped": True, "reason": reason}
            )
            return 0
        out.info(f"re-bake due: {reason}")
    client = builder.connect()  # before any secret is read: no engine, no fetch
    resolved = resolve_values(out, manifest)
    result = bake(manifest, resolved, tags=names, push=push, on_line=out.progress, client=client)
    out.info(f"built {result.image_id}")
    for name in result.tags:
        out.info(f"tagged {name}")
    for item in result.pushed:
        out.info(f"pushed {item.tag} ({item.digest})")
    for image_id in result.removed:
        out.info(f"removed the previous baked image {image_id} (untagged, held old values)")
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
        }
    )
    return 0

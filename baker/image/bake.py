"""The engine bake: resolve is done; render into a private temporary directory, build, tag, push.
`bake()` is the one pipeline: `baker build` and the Python API (`baker.bake`) both call it.

No file holding a value is written: the private directory gets the Dockerfile only (the values go
to the engine as build args), and it is removed on success, failure and Ctrl-C alike. Unless the
bake succeeded, no tag is created or moved: the image is built untagged, tagged once everything
else worked, and the local tags are put back when a push fails.  A registry tag cannot be taken
back, so when the tags name two or more registries (or repositories), each is asked before anything
is built whether it would take the push (`registry.read.check_push`); a push that fails anyway,
mid-way, names the tags already pushed (`PushIncomplete`).

After a bake that succeeded, a previous baked image that lost its last tag to it (it holds the old
values) is removed, when baker baked it, no container uses it (else it is named, with the command to
remove it) and no other bake is still committing it: while a bake tags, pushes and clears up, its
image also carries the name `baker-bake-in-progress:<bake id>` (`engine.lease`).  Stop signals: see
`baker.signals`; a stop either undoes the bake before any tag moves or lets the commit complete.

With `revoke_superseded` (`build --push --revoke-superseded`), what each tag names in its registry is
read before anything is built, and after the push the baked image a tag no longer names is deleted
from the registry (`registry.revoke`); the outcome is `BakeResult.revocation`.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from baker import imageref, signals
from baker import render as renderer
from baker.errors import EngineError, ImageError, PushIncomplete, UsageError
from baker.image import engine
from baker.image.registry import read as registry
from baker.image.registry import revoke
from baker.model import Manifest, SecretRef
from baker.provenance import BAKE_ID_LABEL, LABEL, to_label
from baker.resolver import ResolvedEnv
from baker.secret import Secret


@dataclass(frozen=True)
class BakeResult:
    image_id: str
    tags: tuple[str, ...]
    pushed: tuple[engine.Pushed, ...]
    removed: tuple[str, ...] = ()  # previous baked images removed: untagged, they held old values
    refused: tuple[str, ...] = ()  # previous baked images the engine would not remove (still in use)
    stopped: bool = False  # a stop signal arrived while the bake was committing: it completed first
    revocation: revoke.Revocation | None = None  # with revoke_superseded: what was deleted, what kept


def _app_image(manifest: Manifest, on_line: Callable[[str], None], client: engine.DockerClient) -> str:
    """`image.build`: the user's own image, built untagged with their context and Dockerfile."""
    spec = manifest.image.build
    assert spec is not None
    context = Path(manifest.path).parent / spec.context
    on_line(f"building the app image from {context} ({spec.dockerfile})")
    return engine.build_image(
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
    client: engine.DockerClient | None = None,
    revoke_superseded: bool = False,
) -> BakeResult:
    """Build the baked image (after the app image, for `image.build`), tag it, and push the tags;
    with `revoke_superseded` (needs `push`), then delete the baked images the tags named before.

    A stop signal either undoes the bake (it lands before the first tag moves) or lets it complete
    (tags, pushes, the superseded image's removal) and shows in `BakeResult.stopped`; see
    `baker.signals`.  Whatever it leaves behind (the engine refused a removal, or a third signal
    cut a clean-up short) is named through `on_line`."""
    for name in tags:
        imageref.validate_tag(name)
    if manifest.image.base is not None:
        imageref.validate_base(manifest.image.base)
    refuse_revoke_without_push(push=push, revoke_superseded=revoke_superseded)
    if push:
        _check_push_access(tags)  # before anything is built: a refusal then leaves nothing behind
    # What the tags name now, read before anything moves: a registry that cannot say stops the bake.
    before = revoke.read_before(tags) if revoke_superseded else None
    client = client if client is not None else engine.connect()
    state = _Bake(bake_id=uuid.uuid4().hex)  # the id labels every image this bake makes
    workdir = Path(tempfile.mkdtemp(prefix="baker-build-"))  # 0700
    # Held throughout: a stop raises at once only while nothing needs undoing (`interruptible`);
    # during the build it waits for the engine, then undoes the bake; from the first tag on, the
    # bake completes first.  A third signal in a held phase escapes (a hung engine), naming leftovers.
    with signals.held(escape=3) as stop:
        try:
            with signals.interruptible():
                if manifest.image.build is not None:
                    base = _app_image(manifest, on_line, client)
                    state.created.append(base)
                else:
                    assert manifest.image.base is not None
                    base = manifest.image.base
                base_info = engine.ensure_image(base, on_line, client=client)
                state.base_id = base_info.id
                _refuse_onbuild(base, base_info)
                files = renderer.render(
                    resolved, manifest, workdir, base=base, tags=tags, env_layer=False, bake_id=state.bake_id
                )
                if engine.engine_logs_requests(client=client):
                    on_line(
                        "warning: the Docker engine runs in debug mode and logs each request URL; the build "
                        "args (the values) travel in the build request's URL, so its log will hold them "
                        "(turn debug off in daemon.json, or keep that log private)"
                    )
                on_line(f"baking {len(resolved.entries)} values onto {base}")
            state.image_id = engine.build_image(
                files.directory,
                build_args=_engine_args(resolved, files.arg_names),
                labels={LABEL: to_label(resolved, manifest)},
                on_line=on_line,
                dockerfile=files.dockerfile.name,
                dockerfile_only=True,
                bake=(state.bake_id, state.base_id),
                client=client,
            )
            state.created.append(state.image_id)
            stop.checkpoint()  # stopped during the build: undone here, before any tag moves
            # The commit: from here on the bake completes, whatever signal arrives (bar a third).
            if tags:
                state.lease = engine.lease(state.image_id, state.bake_id, client=client)
            state.undo = engine.tag(state.image_id, tags, client=client)
            for name in tags if push else ():
                state.pushed.append(engine.Pushed(name, engine.push(name, on_line, client=client)))
        except BaseException as exc:
            _undo(state, on_line, client)
            if isinstance(exc, KeyboardInterrupt) and not state.pushed:
                on_line("stopped: the bake was undone, no tag moved")
            if state.pushed:
                if isinstance(exc, EngineError):
                    raise PushIncomplete(exc, state.pushed) from None
                listed = ", ".join(f"{p.tag} ({p.digest})" for p in state.pushed)
                on_line(f"already pushed, cannot be taken back: {listed}")  # a third signal, or a bug
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        removed, refused = _finish(state, on_line, client)
        stopped = stop.consume()
    revocation = (
        revoke.revoke_superseded(before, {p.tag: p.digest for p in state.pushed}, on_line=on_line)
        if before is not None
        else None
    )
    return BakeResult(
        image_id=state.image_id,
        tags=tuple(tags),
        pushed=tuple(state.pushed),
        removed=removed,
        refused=refused,
        stopped=stopped,
        revocation=revocation,
    )


def refuse_revoke_without_push(*, push: bool, revoke_superseded: bool) -> None:
    """`--revoke-superseded` deletes what a pushed tag named before: on the engine path it needs a push."""
    if revoke_superseded and not push:
        raise UsageError(
            "--revoke-superseded deletes what a pushed tag pointed at before; it needs --push",
            hint="add --push (or bake with --in-registry)",
        )


@dataclass
class _Bake:
    """What one bake has made and moved so far: what its clean-up undoes or finishes."""

    bake_id: str
    base_id: str | None = None
    image_id: str = ""
    lease: str | None = None  # the name that marks the output as still being committed
    created: list[str] = field(default_factory=list)
    undo: engine.TagUndo = ()
    pushed: list[engine.Pushed] = field(default_factory=list)


def _undo(state: _Bake, on_line: Callable[[str], None], client: engine.DockerClient) -> None:
    """Put every tag back, remove every image the bake made; name what the engine would not remove.
    Held: more signals wait for it (a third cuts it short, and then it says where to look)."""
    listing = f"docker image ls -a --filter label={BAKE_ID_LABEL}={state.bake_id}"
    with signals.held(escape=3, resume=False):
        try:
            if state.image_id:
                engine.restore_tags(state.undo, state.image_id, client=client)
            if state.lease is not None:
                engine.release(state.image_id, state.lease, client=client)
            # Never pruning: a parent may be the user's own untagged base.  The bake's own steps go
            # by their label, whatever the stream reported (after the ENV step they hold values).
            for image in reversed(state.created):
                engine.remove_image(image, client=client, noprune=True)
            left: list[str] = []
            if state.base_id is not None:
                engine.remove_labelled(BAKE_ID_LABEL, state.bake_id, base=state.base_id, client=client)
                # Children first, the order `docker image rm` takes them in.
                left = engine.leftovers(BAKE_ID_LABEL, state.bake_id, base=state.base_id, client=client)[::-1]
            if state.lease is not None and engine.inspect_image(state.lease, client=client) is not None:
                left.insert(0, state.image_id)  # still under its working name: the engine refused
        except KeyboardInterrupt:
            on_line(
                "stopped during the clean-up: images of this bake (they hold values) may remain; "
                f"list them with `{listing}` and remove each with `docker image rm ID`"
            )
            return
        except EngineError:
            left = [state.lease] if state.lease is not None else []
        if left:
            on_line(
                f"left {len(left)} image(s) of this bake holding values: the engine refused to remove "
                f"them (a container may use them); remove them with `docker image rm {' '.join(left)}` "
                f"(list: `{listing}`)"
            )


def _finish(
    state: _Bake, on_line: Callable[[str], None], client: engine.DockerClient
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The bake completed: remove what it superseded and end its lease (still held).  The removed
    and the refused previous images."""
    previous = _previous(state.undo, state.image_id)
    removed: list[str] = []
    refused: list[str] = []
    try:
        for image_id in previous:
            outcome = engine.remove_superseded(image_id, LABEL, client=client)
            (removed if outcome == "removed" else refused if outcome == "refused" else []).append(image_id)
        if state.lease is not None and not engine.release(state.image_id, state.lease, client=client):
            # Every tag of ours was moved meanwhile (another bake of the same names): our image went
            # with its lease; its own steps (the values) go too.
            if state.base_id is not None:
                engine.remove_labelled(BAKE_ID_LABEL, state.bake_id, base=state.base_id, client=client)
            on_line(
                f"every tag of this bake was moved to another image meanwhile (another bake?); "
                f"removed this bake's image {state.image_id}"
            )
        if state.lease is not None and engine.inspect_image(state.lease, client=client) is not None:
            on_line(f"could not drop the bake's working name: remove it with `docker image rm {state.lease}`")
        state.lease = None
    except KeyboardInterrupt:
        pending = [i for i in previous if i not in removed and i not in refused]
        if pending:
            on_line(
                "stopped before removing the previous baked image(s), untagged, holding old values: "
                f"remove them with `docker image rm {' '.join(pending)}`"
            )
        if state.lease is not None:
            on_line(f"stopped before dropping the bake's working name: `docker image rm {state.lease}`")
        raise
    return tuple(removed), tuple(refused)


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
            host = imageref.pushes_to(name)
            raise EngineError(f"cannot push to {host}: {exc.message}", hint=exc.hint) from None


def _previous(undo: engine.TagUndo, image_id: str) -> list[str]:
    """The images the tags of this bake pointed at before: each may be a bake output that lost its
    last tag to this one (it holds the old values).  Only a bake's output qualifies, not an image
    someone built FROM it; one a container uses, or still named, stays (see `remove_superseded`)."""
    return list(dict.fromkeys(b for _, b in undo if b is not None and b != image_id))


def _refuse_onbuild(base: str, info: engine.ImageInfo) -> None:
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

"""The engine bake: resolve is done; the base's config read from the engine, the values baked into
it (`baker.image.oci.bake_config`, the registry road's own code), the result loaded over the layers
the engine holds, tagged, pushed.  `bake()` is the one pipeline: `baker build` and the Python API
(`baker.bake`) both call it.

No build step, no intermediate image, no file: the baked config exists in memory and in the one
image the engine loads (its id is the config's digest, known before the load: an undo removes it
whatever the load's answer said).  The history gets one entry naming the variables, never a value.
Unless the bake succeeded, no tag is created or moved: the image is loaded untagged, tagged once
everything else worked, and the local tags are put back when a push fails.  A registry tag cannot be
taken back, so when the tags name two or more registries (or repositories), each is asked before
anything is loaded whether it would take the push (`registry.read.check_push`); a push that fails
anyway, mid-way, names the tags already pushed (`PushIncomplete`).

The base recorded in the provenance (`provenance.BaseRecord`: the base as named, and its image id)
is what `build --if-stale` re-bakes onto (`base=`): a rotation re-bake changes the values and
nothing else, wherever `image.from` points now.

After a bake that succeeded, a previous baked image that lost its last tag to it (it holds the old
values) is removed, when baker baked it, no container uses it (else it is named, with the command to
remove it) and no other bake is still committing it: while a bake tags, pushes and clears up, its
image also carries the name `baker-bake-in-progress:<id>`, given by the load (`engine.lease_name`).
Stop signals: see `baker.signals`; a stop either undoes the bake before any tag moves or lets the
commit complete.

With `revoke_superseded` (`build --push --revoke-superseded`), what each tag names in its registry is
read before anything is loaded (and again just before each push: a bake of the same tag may have
moved it meanwhile), and after the push the baked image a tag no longer names is deleted from the
registry (`registry.revoke`); the outcome is `BakeResult.revocation`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from baker import __version__, imageref, signals
from baker.errors import BakeStopped, EngineError, ImageError, PushIncomplete, UsageError
from baker.image import engine, fileslayer, oci
from baker.model import Manifest
from baker.output import untrusted
from baker.provenance import LABEL, BaseRecord, to_label
from baker.record import Record, field
from baker.resolver import ResolvedEnv

if TYPE_CHECKING:  # the registry modules load only for a push or a revocation, the app build's for
    # an app build (process start)
    from baker.image import appbuild
    from baker.image.registry import revoke

# The config media type of an image the engine holds (what `docker push` sends for it).
ENGINE_CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"


class BakeResult(Record):
    image_id: str
    tags: tuple[str, ...]
    pushed: tuple[engine.Pushed, ...]
    removed: tuple[str, ...] = ()  # previous baked images removed: untagged, they held old values
    refused: tuple[str, ...] = ()  # previous baked images the engine would not remove (still in use)
    stopped: bool = False  # a stop signal arrived while the bake was committing: it completed first
    revocation: revoke.Revocation | None = None  # with revoke_superseded: what was deleted, what kept


class BaseRead(Record):
    """What a bake reads of the engine whatever the values (`ReadAhead`): `image.from`'s image id
    and exact config when the engine holds it (None: found, or pulled, after resolution as
    before), whether the image store wants every layer in the load (None: not read), and the
    layer-less load opened for the bake (`engine.open_load`; the bake hands it over or aborts it)."""

    image_id: str | None = None
    config: bytes | None = None
    full_layers: bool | None = None
    opened: engine.OpenedLoad | None = None


# How long a failed resolution waits for the reads ahead to end before it is raised: they are reads
# (nothing to undo), so this only keeps a thread from sitting in an engine call as the process exits.
AHEAD_WAIT = 10.0


class ReadAhead:
    """The engine work of the bake that does not depend on the values, done on a daemon thread
    while the values resolve (`read_ahead`, `pipeline.build`): resolution waits on the network, and
    the engine answers meanwhile.  The image store's kind (`engine.wants_layers`, `docker info`);
    where it takes a layer-less load, that load opened (`engine.open_load`: moby starts its
    unpacking helper, most of a small load's cost, and waits for the archive); `image.from`'s
    inspect (never a pull: a base that is not local is pulled after resolution, as before) and its
    config (`engine.base_config`: `docker save` read up to it).

    Until the bake hands the archive over, nothing holding a value is sent, and the engine creates
    nothing: a stop or a failure before it leaves nothing to undo (the opened load is aborted).
    What the thread raised (an `EngineError`: each engine call translates its own) is raised by
    `take`, where the bake made those reads before (after resolution, before anything is loaded):
    the same error and exit, in the same order.  `close` asks it to make no further call, aborts
    the opened load, and waits (bounded) for the call under way."""

    def __init__(self, client: engine.DockerClient, base: str | None) -> None:
        self._client = client
        self._base = base
        self._read = BaseRead()
        self._failure: BaseException | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._opened: engine.OpenedLoad | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baker-engine-reads", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        with self._lock:
            if not self._closed:
                self._opened = engine.open_load(self._client)

    def _run(self) -> None:
        try:
            full = engine.wants_layers(client=self._client)
            if not full:
                self._open()
            image_id = config = None
            if self._base is not None and not self._closed:
                info = engine.inspect_image(self._base, client=self._client)
                if info is not None and not self._closed:
                    image_id = info.id
                    config = engine.base_config(image_id, client=self._client)
            self._read = BaseRead(image_id=image_id, config=config, full_layers=full, opened=self._opened)
        except BaseException as exc:  # handed to `take`
            self._failure = exc
        finally:
            self._done.set()

    def take(self) -> BaseRead:
        """What the thread read, once it ended; what it raised, raised here (the opened load
        aborted first).  A stop signal raises while this waits (the caller's `interruptible`
        region); the caller then aborts the opened load (`close`)."""
        while not self._done.wait(0.05):
            pass
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self.close(wait=0.0)
            raise failure
        return self._read

    def close(self, *, wait: float) -> None:
        """No further engine call, the opened load aborted; wait up to `wait` seconds for the call
        under way to end."""
        with self._lock:
            self._closed = True
            opened = self._opened
        if opened is not None:
            opened.abort()
        self._thread.join(wait)


class CheckedTags(Record):
    """What a bake asks of its tags before anything is built (`check_tags`): each a valid name,
    each registry of a push to two or more taking it, and with `--revoke-superseded` what each
    tag names now (`before`; None without a revocation)."""

    tags: tuple[str, ...]
    push: bool
    before: dict[str, str | None] | None

    def made_for(self, tags: Sequence[str], *, push: bool, revoke_superseded: bool) -> bool:
        """Whether these checks are a bake's of `tags` with these options (else it makes its own)."""
        return (self.tags, self.push, self.before is not None) == (tuple(tags), push, revoke_superseded)


def check_tags(
    manifest: Manifest, tags: Sequence[str], *, push: bool, revoke_superseded: bool
) -> CheckedTags:
    """The bake's checks of its tags and base reference, and the registries' answers it needs
    (`_check_push_access`, `revoke.read_before`): the pipeline makes them before anything is
    resolved (no registry, no fetch), or its caller before a staleness check that reads secrets
    (`build --if-stale`, `commands.build.check_first`); `bake` makes them itself when not given
    them (`CheckedTags.made_for`)."""
    imageref.validate_names(tags, manifest.image.base)
    refuse_revoke_without_push(push=push, revoke_superseded=revoke_superseded)
    if push:
        _check_push_access(tags)  # before anything is built: a refusal then leaves nothing behind
    before = None
    if revoke_superseded:  # what the tags name now, read before anything moves
        from baker.image.registry import revoke

        before = revoke.read_before(tags)
    return CheckedTags(tuple(tags), push, before)


def read_ahead(
    manifest: Manifest,
    client: engine.DockerClient,
    *,
    recorded: BaseRecord | None = None,
    app: appbuild.AppBuild | None = None,
) -> ReadAhead:
    """Start the bake's value-free engine reads (`ReadAhead`) for `bake(ahead=...)`.  `image.from`
    is read ahead when it is the base (no recorded base, no app build) and a valid reference (an
    invalid one is refused by `bake`, as before); the image store's kind always."""
    base = manifest.image.base if recorded is None and app is None else None
    if base is not None:
        try:
            imageref.validate_base(base)
        except UsageError:
            base = None
    return ReadAhead(client, base)


def _app_image(app: appbuild.AppBuild, resolved: ResolvedEnv, on_line: Callable[[str], None]) -> str:
    """`image.build`: the user's own image, built by BuildKit through their Docker CLI (untagged)."""
    from baker.image import appbuild  # the app build's modules load only for an app build (process start)

    secrets = {entry.env: entry.value for entry in resolved.build_secrets}
    return appbuild.build(app, secrets, on_line=on_line).image_id


def bake(
    manifest: Manifest,
    resolved: ResolvedEnv,
    *,
    tags: Sequence[str],
    push: bool,
    on_line: Callable[[str], None],
    client: engine.DockerClient | None = None,
    revoke_superseded: bool = False,
    base: BaseRecord | None = None,
    full_layers: bool | None = None,
    app: appbuild.AppBuild | None = None,
    ahead: ReadAhead | None = None,
    checked: CheckedTags | None = None,
) -> BakeResult:
    """Bake `resolved` onto the base (`image.from`, or the app image `image.build` makes), tag the
    result, and push the tags; with `revoke_superseded` (needs `push`), then delete the baked
    images the tags named before.

    `base`: the base recorded in an image baked before (`provenance.base_of`), for `build
    --if-stale`: the bake then goes onto that exact image (its id), not onto what `image.from` names
    now.  `full_layers`: load the base's layers with the baked config (None: when the engine's
    image store wants them, `engine.wants_layers`); tests force it.  `app`: for `image.build`, the
    build `appbuild.prepare` checked (the pipeline prepares it before resolving); prepared here when
    not given (and not needed with a recorded `base`: the app is not rebuilt).  `ahead`: the
    engine reads `read_ahead` started before resolution (the pipeline does); made here when not
    given.  `checked`: `check_tags` of these tags, made before resolution (the pipeline does);
    made here when not given.

    A stop signal either undoes the bake (it lands before the first tag moves) or lets it complete
    (tags, pushes, the superseded image's removal) and shows in `BakeResult.stopped`; see
    `baker.signals`.  Whatever it leaves behind (the engine refused a removal, or a third signal
    cut a clean-up short) is named through `on_line`."""
    try:
        if checked is None or not checked.made_for(tags, push=push, revoke_superseded=revoke_superseded):
            checked = check_tags(manifest, tags, push=push, revoke_superseded=revoke_superseded)
        before = checked.before
        if revoke_superseded:
            from baker.image.registry import revoke
        client = client if client is not None else engine.connect()
        if manifest.image.build is not None and app is None and base is None:
            # The app build's modules load only for an app build (process start).
            from baker.image import appbuild

            app = appbuild.prepare(manifest)
    except BaseException:
        if ahead is not None:  # refused before it started: the reads end, the opened load is aborted
            ahead.close(wait=0.0)
        raise
    meanwhile: dict[str, str | None] = {}  # what each tag names just before its push
    state = _Bake()
    # Held throughout: a stop raises at once only while nothing needs undoing (`interruptible`);
    # during the load it waits for the engine, then undoes the bake; from the first tag on, the
    # bake completes first.  A third signal in a held phase escapes (a hung engine), naming leftovers.
    with signals.held(escape=3) as stop:
        try:
            with signals.interruptible():
                read = ahead.take() if ahead is not None else BaseRead()
                state.opened = read.opened
                base_ref, base_id = _base(
                    manifest, base, app, resolved, on_line, client, state, known=read.image_id
                )
                raw = read.config if read.config is not None and read.image_id == base_id else None
                if raw is None:
                    raw = engine.base_config(base_id, client=client)
                layers = _layer_count(raw)
                if full_layers is None:
                    full_layers = read.full_layers
                if full_layers is None:
                    full_layers = engine.wants_layers(client=client)
                del read
                record = BaseRecord(ref=base_ref, digest=base_id)
                config, files = _baked_config(
                    raw, manifest, resolved, to_label(resolved, manifest, base=record)
                )
                del raw
                # The engine's id for it, known before the load.  No image of that id exists before:
                # the config holds this bake's `created` time (microseconds) and label.
                state.image_id = config.digest
                with_files = f" and {len(resolved.files)} files (one layer)" if resolved.files else ""
                on_line(f"baking {len(resolved.entries)} values{with_files} onto {base_ref} ({base_id[:19]})")
            # The load takes a moment: a stop waits for it, then undoes it; a second one escapes
            # (a hung engine) and the undo still knows the image by its id.  With tags, the load
            # names the image with the bake's lease (`engine.lease_name`): never without a name.
            state.lease = engine.lease_name() if tags else None
            state.loading = True
            with signals.held(escape=2):
                engine.load_config(
                    config,
                    base_id=base_id,
                    layer_count=layers,
                    full_layers=full_layers,
                    client=client,
                    answered=state.answer_read,
                    files=files.tar if files is not None else None,
                    opened=state.opened,
                    named=state.lease,
                )
            del config, files
            stop.checkpoint()  # stopped during the load: undone here, before any tag moves
            # The commit: from here on the bake completes, whatever signal arrives (bar a third).
            state.undo = engine.tag(state.image_id, tags, client=client)
            for name in tags if push else ():
                if before is not None:  # an overlapping bake may have moved it since the first read
                    meanwhile[name] = revoke.named_now(name)
                state.pushing = name
                state.pushed.append(engine.Pushed(name, engine.push(name, on_line, client=client)))
                state.pushing = None
        except BaseException as exc:
            if ahead is not None:
                ahead.close(wait=0.0)  # a stop while `take` waited: the reads end, the load is aborted
            if state.opened is not None:
                state.opened.abort()  # not handed over (a no-op if it was): the engine loads nothing
            undone = _undo(state, on_line, client)
            if isinstance(exc, KeyboardInterrupt) and (state.pushed or state.pushing):
                _escaped_push(state, undone, on_line)  # a third signal during the pushes
            if isinstance(exc, KeyboardInterrupt):
                if undone.pending:
                    on_line("stopped: no tag moved; the engine may still commit the baked image (see above)")
                elif undone.left:
                    on_line("stopped: no tag moved; the baked image could not be removed (see above)")
                else:
                    on_line("stopped: the bake was undone, no tag moved")
                if undone.left:  # the command's --json document names them too
                    raise BakeStopped(undone.left, ()) from None
            if state.pushed:
                if isinstance(exc, EngineError):
                    raise PushIncomplete(exc, state.pushed) from None
                listed = ", ".join(f"{p.tag} ({p.digest})" for p in state.pushed)
                on_line(f"already pushed, cannot be taken back: {listed}")  # a bug (a stop: above)
            raise
        try:
            removed, refused = _finish(state, on_line, client, moved=tags)
        except BakeStopped as escaped:
            if before is None:
                raise
            # --revoke-superseded never ran: the images the tags named before are still pullable
            unrevoked = [
                f"{where}@{digest}"
                for where, digest in revoke.superseded(
                    before, {p.tag: p.digest for p in state.pushed}, meanwhile
                )
            ]
            if unrevoked:
                on_line(
                    f"stopped before --revoke-superseded: {', '.join(unrevoked)} may still be pullable, "
                    "holding the old values; delete through the registry's API "
                    "(`DELETE /v2/<repository>/manifests/<digest>`)"
                )
            raise BakeStopped([*escaped.left, *unrevoked], escaped.not_restored, completed=True) from None
        stopped = stop.consume()
    revocation = None
    if before is not None:  # the bake completed: a stop now ends the revocation, not the bake
        revocation, cut = revoke.revoke_after_bake(
            before, {p.tag: p.digest for p in state.pushed}, on_line=on_line, meanwhile=meanwhile
        )
        stopped = stopped or cut
    return BakeResult(
        image_id=state.image_id,
        tags=tuple(tags),
        pushed=tuple(state.pushed),
        removed=removed,
        refused=refused,
        stopped=stopped,
        revocation=revocation,
    )


def _base(
    manifest: Manifest,
    recorded: BaseRecord | None,
    app: appbuild.AppBuild | None,
    resolved: ResolvedEnv,
    on_line: Callable[[str], None],
    client: engine.DockerClient,
    state: _Bake,
    known: str | None = None,
) -> tuple[str, str]:
    """The base as the provenance names it, and its image id: the recorded one (`build
    --if-stale`), else the app image `image.build` makes, else `image.from` (pulled when not local;
    `known`: its id, read ahead)."""
    if recorded is not None:
        return recorded.ref, _recorded_base(recorded, on_line, client)
    if app is not None:
        app_id = _app_image(app, resolved, on_line)
        state.created.append(app_id)
        return app_id, app_id
    assert manifest.image.base is not None
    if known is not None:
        return manifest.image.base, known
    return manifest.image.base, engine.ensure_image(manifest.image.base, on_line, client=client).id


def _recorded_base(recorded: BaseRecord, on_line: Callable[[str], None], client: engine.DockerClient) -> str:
    """The image id of the base an image records: the engine's image id when the engine baked it;
    a registry's manifest digest when the registry road did, found as `repository@digest` among
    what the engine holds (pulled or pushed by digest).  Never pulled here: the error names the
    pull, so no request leaves for a registry the user did not name for this bake.

    The record is the label's, written by whoever put the image under the tag, and `ref` is
    already `image.from`'s repository (`pipeline._tied`): an image found by id is used only when
    the engine names it as an image of that repository (RepoTags or RepoDigests), so a label
    cannot point the re-bake at any other image the engine holds."""
    info = engine.inspect_image(recorded.digest, client=client)
    pinned = _pinned(recorded)
    if info is not None and not _of_repository(info, recorded.ref):
        raise EngineError(
            f"the image to re-bake records its base as {untrusted(recorded.ref)} ({recorded.digest}), "
            f"but this engine's image {recorded.digest[:19]} is no image of that repository (none of "
            "its names is): a --if-stale re-bake goes onto an image of image.from's repository only",
            hint="run `baker build` without --if-stale to bake onto image.from as it is now; and find out "
            "who put the image under the tag (its label was not written by baker for this base)",
        )
    if info is None and pinned is not None:
        info = engine.inspect_image(pinned, client=client)
    if info is None:
        pull = f"`docker pull {untrusted(pinned)}` (if the registry road baked it), or " if pinned else ""
        raise EngineError(
            f"the image to re-bake was baked onto {untrusted(recorded.ref)} ({recorded.digest}), "
            "which this engine no longer holds",
            hint=f"a rotation re-bake keeps the base: get that exact image back: {pull}build it again; "
            "or run `baker build` without --if-stale to bake onto image.from as it is now",
        )
    on_line(f"re-baking onto the recorded base {untrusted(recorded.ref)} ({recorded.digest[:19]})")
    return info.id


def _of_repository(info: engine.ImageInfo, ref: str) -> bool:
    """Whether the engine names `info` as an image of `ref`'s repository; an image id names only
    itself (`image.from` written as an id)."""
    if imageref.IMAGE_ID.fullmatch(ref):
        return info.id == ref
    names = [*info.repo_tags, *(item.partition("@")[0] for item in info.repo_digests)]
    return any(imageref.same_repository(name, ref) for name in names if imageref.is_valid(name))


def _pinned(recorded: BaseRecord) -> str | None:
    """`repository@digest` for the recorded base, None when its name is no repository (an id)."""
    try:
        name = imageref.parse(recorded.ref).name
    except UsageError:
        return None
    return f"{name}@{recorded.digest}"


def _layer_count(raw: bytes) -> int:
    """The number of layers the base's config names (the load's manifest names as many)."""
    oci.check_duplicates(raw, "config")  # named as such, not as a config with no layers
    try:
        document = oci.parse_config(raw)
    except (ValueError, RecursionError):
        document = None
    rootfs = document.get("rootfs") if isinstance(document, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        raise EngineError("the base image's config names no layers (rootfs.diff_ids)")
    return len(diff_ids)


def _baked_config(
    raw: bytes, manifest: Manifest, resolved: ResolvedEnv, label: str
) -> tuple[oci.Blob, fileslayer.FilesLayer | None]:
    """The registry road's bake (`oci.bake_config`) over the base config the engine holds, and the
    `files:` layer (`fileslayer`: the same bytes as the registry road's) the config names."""
    created = oci.now()
    comment = f"baker {__version__}: values in Env; their sources in the label {LABEL}"
    env = [(entry.env, entry.value.reveal()) for entry in resolved.entries]
    try:
        files = fileslayer.layer_for(manifest, resolved, created=created)
        layer = (files.diff_id, files.paths) if files is not None else None
        config = oci.bake_config(
            raw,
            env,
            {LABEL: label},
            created=created,
            comment=comment,
            media_type=ENGINE_CONFIG_TYPE,
            layer=layer,
        )
        return config, files
    except ImageError as exc:
        raise EngineError(exc.message, hint=exc.hint) from None
    finally:
        del env


def refuse_revoke_without_push(*, push: bool, revoke_superseded: bool) -> None:
    """`--revoke-superseded` deletes what a pushed tag named before: on the engine path it needs a push."""
    if revoke_superseded and not push:
        raise UsageError(
            "--revoke-superseded deletes what a pushed tag pointed at before; it needs --push",
            hint="add --push (or bake with --in-registry)",
        )


class _Bake(Record, frozen=False):
    """What one bake has made and moved so far: what its clean-up undoes or finishes."""

    image_id: str = ""  # the baked config's digest: the engine's id for the image, known before the load
    loading: bool = False  # the load was asked for: the image may exist from then on
    answered: bool = False  # the engine's answer to the load was read to its end: it is done
    lease: str | None = None  # the name that marks the output as still being committed
    opened: engine.OpenedLoad | None = None  # the load opened ahead (`ReadAhead`), until handed over
    created: list[str] = field(default_factory=list)  # the app image (`image.build`), no value in it
    undo: engine.TagUndo = ()
    pushed: list[engine.Pushed] = field(default_factory=list)
    pushing: str | None = None  # the tag whose push is under way: the registry may take it

    def answer_read(self) -> None:
        self.answered = True


LOAD_SETTLE = 5.0  # seconds an undo watches for an image whose load it stopped listening to


class _Undone(Record):
    """What an undo could not take back: `left`, images that hold values and may remain (named as
    the user removes them: the lease's name for a load still pending, else the image id), each
    already named in a line; `pending`, a load whose answer baker stopped reading (rte-3)."""

    left: tuple[str, ...] = ()
    pending: bool = False


def _undo(state: _Bake, on_line: Callable[[str], None], client: engine.DockerClient) -> _Undone:
    """Put every tag back, remove the image the bake loaded (and the app image it built); name what
    the engine would not remove.  Held: more signals wait for it (a third cuts it short, and then it
    says where to look).  `pending` when a load whose answer baker stopped reading (a second signal)
    brought no image within LOAD_SETTLE: the engine may still commit it, and that was said (rte-3)."""
    mine = state.loading
    unseen: list[bool] = []
    with signals.held(escape=3, resume=False):
        try:
            if state.image_id and state.loading:
                engine.restore_tags(state.undo, state.image_id, client=client)
            if state.lease is not None:
                engine.release(state.image_id, state.lease, client=client)
            left = (
                engine.remove_loaded(
                    state.image_id,
                    client=client,
                    settle=0.0 if state.answered else LOAD_SETTLE,
                    lease=state.lease,
                    unseen=lambda: unseen.append(True),
                )
                if mine
                else []
            )
            for image in reversed(state.created):
                engine.remove_image(image, client=client, noprune=True)
        except KeyboardInterrupt:
            if mine:
                on_line(
                    f"stopped during the clean-up: the baked image {state.image_id} (it holds values) may "
                    f"remain; remove it with `docker image rm {state.image_id}`"
                )
                return _Undone((state.image_id,))
            return _Undone()
        except EngineError:
            left = [state.image_id] if mine else []
        if left:
            on_line(
                f"left the baked image {state.image_id}, holding values: the engine refused to remove it "
                f"(a container may use it); remove it with `docker image rm {state.image_id}`"
            )
        if mine and unseen and not state.answered:
            # baker stopped reading the load's answer: the engine may commit the image later.
            named = state.lease or state.image_id
            on_line(
                f"the engine may still finish loading the baked image {state.image_id} (named {named}), "
                f"which holds values: baker stopped waiting for it; once it appears, remove it with "
                f"`docker rmi {named}`"
            )
            return _Undone((named,), pending=True)
        return _Undone((state.image_id,) if left else ())


def _escaped_push(state: _Bake, undone: _Undone, on_line: Callable[[str], None]) -> NoReturn:
    """A third signal during the pushes: the local tags were put back (`_undo`), but a registry tag
    pushed cannot be taken back, and the push under way may still land.  Raised as `BakeStopped`
    naming them (`not_restored`) and what the undo left, so the `--json` document says so too."""
    if state.pushed:
        listed = ", ".join(f"{p.tag} ({p.digest})" for p in state.pushed)
        on_line(f"already pushed, cannot be taken back: {listed}")
    if state.pushing is not None:
        on_line(
            f"stopped during the push of {state.pushing}: the registry may have taken it (the engine may "
            "still finish it); see what it names there"
        )
    # the tag under way may already be among the pushed (a stop between the two assignments)
    moved = list(dict.fromkeys([p.tag for p in state.pushed] + ([state.pushing] if state.pushing else [])))
    on_line("stopped: the local tags were put back; the registry tags named above may have moved")
    raise BakeStopped(undone.left, moved) from None


def _finish(
    state: _Bake, on_line: Callable[[str], None], client: engine.DockerClient, *, moved: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The bake completed: remove what it superseded and end its lease (still held).  The removed
    and the refused previous images.  A third signal cuts it short: `BakeStopped(completed=True)`
    names what it left (`left`: the previous images not yet removed, the lease's name) and the
    tags that moved (`moved`: every tag, and each pushed)."""
    previous = _previous(state.undo, state.image_id)
    removed: list[str] = []
    refused: list[str] = []
    try:
        for image_id in previous:
            outcome = engine.remove_superseded(image_id, LABEL, client=client)
            (removed if outcome == "removed" else refused if outcome == "refused" else []).append(image_id)
        released = engine.release(state.image_id, state.lease, client=client) if state.lease else None
        if released is not None and not released.image_stays:
            # Every tag of ours was moved meanwhile (another bake of the same names): our image
            # went with its lease.
            on_line(
                f"every tag of this bake was moved to another image meanwhile (another bake?); "
                f"removed this bake's image {state.image_id}"
            )
        if released is not None and not released.name_dropped:
            on_line(f"could not drop the bake's working name: remove it with `docker image rm {state.lease}`")
        state.lease = None
    except KeyboardInterrupt:
        pending = [i for i in previous if i not in removed and i not in refused]
        if pending:
            on_line(
                "stopped before removing the previous baked image(s), untagged, holding old values: "
                f"remove them with `docker image rm {' '.join(pending)}`"
            )
        if refused:
            on_line(
                f"kept the previous baked image(s) {' '.join(refused)}: untagged, holding old values, the "
                "engine refused to remove them (a container uses them); remove them once it is gone"
            )
        if state.lease is not None:
            on_line(f"stopped before dropping the bake's working name: `docker image rm {state.lease}`")
        left = [*pending, *refused, *([state.lease] if state.lease is not None else [])]
        on_line("stopped after the bake completed (the tags moved); its clean-up did not (see above)")
        raise BakeStopped(left, list(dict.fromkeys(moved)), completed=True) from None
    return tuple(removed), tuple(refused)


def _check_push_access(tags: Sequence[str]) -> None:
    """With two or more push targets, each registry (and repository) must take the push before the
    first one is pushed: a tag pushed to one registry cannot be taken back when the next refuses.

    With a single target there is no partial state to avoid (a refused push creates nothing), and
    the check is skipped: it runs from baker's machine, not the engine's, so it could refuse a push
    the engine itself can make (a remote DOCKER_HOST whose `localhost:5000` is not ours, a registry
    the engine lists in `insecure-registries`)."""
    from baker.image.registry import read as registry

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

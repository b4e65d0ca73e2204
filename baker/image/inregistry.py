"""`baker build --in-registry`: bake straight in the registry, without a Docker engine.

    read the base (index or manifest, each platform's manifest and config)   [before any secret]
    read what each tag names now (`check_targets`: the undo's record)        [before any secret]
    `files:` (if any): one small gzip layer holding them                     ─▶ layer blob
    per platform: the base config + Env + provenance label + a history entry ─▶ config blob
                  (+ the files layer's diff_id and its history entry)
                  the base manifest pointing at it (the base's layers [+ the files layer]) ─▶ manifest
    the base index pointing at the baked manifests (attestations dropped)    ─▶ index
    per target repository: layers present (HEAD), mounted (same registry) or streamed (another
        registry); config blobs; manifests by digest; the index by digest
    then, only when every target holds everything: each tag (read again, then PUT by tag, the
        same bytes)

A manifest PUT is refused while a blob it names is missing, and nothing is tagged before every
target repository holds the whole image, so a failure before the tags moves no tag.  A failure after
the first config was pushed (a tag refused after another was moved included: an immutable tag, a
quota) is undone by `inregistry_undo`: tags put back to the manifests they named before (read before
the values were resolved, and again just before each tag moved: what it named then is put back,
so a tag someone moved meanwhile is not put back to an older image), what the bake pushed deleted,
whatever could not be undone named.  Stop signals are held from the first config through the last
tag (see `bake_in_registry`); the whole bake is bounded by a `Budget` (`--timeout`) that no
registry can stretch.

The baked config bytes (and the files layer's) hold the values: they live in memory only, are sent
as they were hashed, and never appear in a message, a log record or a file.  The files layer is
pushed first, recorded like a config for the undo (deleted when the bake is undone).  After
`--revoke-superseded`, a superseded image's config and files layer stay as blobs until the
registry's garbage collection, as every blob does (only manifests are deleted).

With `revoke_superseded`, the digests the tags named before come from that same read, made before
the values are resolved, and from the read of each tag just before it is moved (a bake of the same
tag that overlapped this one may have moved it meanwhile); once the bake completed (every tag
moved), each baked image a tag no longer names is deleted from the registry (`registry.revoke`).
The revocation is never part of an undo: a failed or stopped-before-the-tags bake revokes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from baker import __version__, imageref, signals
from baker.errors import BakerError, BakeStopped, ImageError, RegistryBakeFailed, RenderError, UsageError
from baker.image import fileslayer, oci
from baker.image import inregistry_undo as undo
from baker.image.registry import push as registry_push
from baker.image.registry import revoke
from baker.image.registry.client import (
    CONFIG_MAX,
    DEADLINE,
    MANIFEST_MAX,
    MIB,
    RegistryClient,
    parse_json,
)
from baker.image.registry.read import push_target
from baker.image.registry.refs import ImageRef
from baker.imageref import shown
from baker.model import Manifest
from baker.output import untrusted
from baker.provenance import LABEL, BaseRecord, to_label
from baker.record import Record
from baker.resolver import ResolvedEnv

# Everything read of a base (its index, every platform's manifest and config) together: 40
# platforms of 30 MiB configs once took baker to 2.6 GB before anything was pushed.  Each config is
# capped at `CONFIG_MAX` and each manifest at `MANIFEST_MAX` (4 MiB, the limits of the tools around
# baker: see `oci`); a real base's documents are a few KiB a platform.
BASE_MAX = 32 * MIB
_FOREIGN = ("nondistributable", "foreign")  # layers a registry never holds (Windows base layers)
BAKE_DEADLINE = 3600.0  # seconds for a whole bake after the base is read (`timeout`, `--timeout`)
COPY_RATE = MIB  # bytes/s: the floor speed a layer copy's own deadline allows for its size


class BasePlatform(Record):
    name: str  # linux/amd64
    digest: str  # the base manifest's digest
    manifest: dict[str, Any]
    media_type: str
    config: bytes  # the base config, as the registry sent it (no value of baker's in it)
    config_media_type: str


class BaseImage(Record):
    ref: ImageRef
    index: dict[str, Any] | None  # None for a single-manifest base
    media_type: str
    platforms: tuple[BasePlatform, ...]
    digest: str = ""  # the index's (or the single manifest's) digest: sha256 of the bytes the registry sent


class Pushed(Record):
    tag: str
    digest: str


class RegistryBake(Record):
    digest: str  # the index's, or the single manifest's
    media_type: str
    tags: tuple[str, ...]
    platforms: tuple[str, ...]
    pushed: tuple[Pushed, ...]
    stopped: bool = False  # a stop signal arrived during the tag step: the bake completed first
    revocation: revoke.Revocation | None = None  # with revoke_superseded: what was deleted, what kept


def target(name: str) -> ImageRef:
    """A tag to push to: Docker's rule for a name without a registry host (Docker Hub)."""
    ref = push_target(name)
    if ref.reference.startswith("sha256:"):
        raise UsageError(
            f"--in-registry pushes to tags; {shown(name)} is a digest reference",
            hint="pass --tag registry.example.com/app:TAG",
        )
    return ref


# --- reading the base -----------------------------------------------------------------------------


class _Held:
    """What reading a base holds so far: no document is read past `BASE_MAX` in all."""

    def __init__(self) -> None:
        self.size = 0
        self.platforms = 0

    def read(self, client: RegistryClient, response: Any, what: str, cap: int, where: str) -> bytes:
        left = BASE_MAX - self.size
        over = None
        if left < cap:
            cap = max(left, 0)
            over = ImageError(
                f"the base image's manifests and configs together are larger than {BASE_MAX // MIB} MiB "
                f"(at {untrusted(where)}, after {self.platforms} platforms); baker does not read further",
                hint="bake onto a base with fewer platforms or smaller configs",
            )
        raw = client.read(response, what, cap, over=over)
        self.size += len(raw)
        return raw


def _get_manifest(
    client: RegistryClient, reference: str, what: str, held: _Held, where: str = "the index"
) -> tuple[dict[str, Any], str, str]:
    response = client.get(f"{client.ref.base_url}/manifests/{reference}", oci.ACCEPT)
    if response.status_code in (401, 403):
        response.close()
        raise client.denied(response.status_code)
    if response.status_code == 404:
        response.close()
        raise ImageError(
            f"the registry {client.ref.host} has no {what} {client.ref.repository}:{reference}"
            if not reference.startswith("sha256:")
            else f"the registry {client.ref.host} has no manifest {reference} in {client.ref.repository}",
            hint="check image.from (registry, repository, tag)",
        )
    if response.status_code != 200:
        response.close()
        raise ImageError(
            f"the registry {client.ref.host} answered HTTP {response.status_code} for the {what}"
        )
    content_type = response.headers.get("Content-Type", "")
    raw = held.read(client, response, "manifest", MANIFEST_MAX, where)
    if reference.startswith("sha256:") and oci.digest_of(raw) != reference:
        raise ImageError(
            f"the manifest the registry {client.ref.host} sent does not match its digest {reference}"
        )
    document = parse_json(raw, "manifest")
    oci.check_duplicates(raw, what if what == "manifest" else "index or manifest")
    return document, oci.media_type_of(document, content_type), oci.digest_of(raw)


def _platform(
    client: RegistryClient,
    digest: str,
    name: str,
    manifest: dict[str, Any],
    media_type: str,
    held: _Held,
) -> BasePlatform:
    if media_type not in oci.IMAGE_TYPES:
        raise ImageError(
            f"the base image's manifest ({untrusted(name)}) has the type {untrusted(media_type)}, "
            "which baker cannot bake"
        )
    oci.check_manifest_keys(manifest)
    descriptor = manifest.get("config")
    if not isinstance(descriptor, dict) or not oci.is_digest(descriptor.get("digest")):
        raise ImageError(f"the base image's manifest ({untrusted(name)}) names no config blob")
    oci.layer_descriptors(manifest)
    config_digest = str(descriptor["digest"])
    response = client.get(f"{client.ref.base_url}/blobs/{config_digest}", "*/*")
    if response.status_code != 200:
        response.close()
        raise ImageError(
            f"the registry {client.ref.host} answered HTTP {response.status_code} for the base config"
        )
    raw = held.read(client, response, "image config", CONFIG_MAX, name or "the image")
    if oci.digest_of(raw) != config_digest:
        raise ImageError("the base config the registry sent does not match its digest")
    document = oci.checked_config(raw)  # before any secret is read: Go's reading of its keys
    if name == "":
        name = oci.platform_name(document)
    held.platforms += 1
    return BasePlatform(name, digest, manifest, media_type, raw, str(descriptor.get("mediaType") or ""))


def read_base(ref: str) -> BaseImage:
    """The base's index (if any), each platform's manifest and config, read without any layer;
    at most `BASE_MAX` bytes of them in all, and keys read as Go reads them (`oci.check_keys`)."""
    image = push_target(ref)
    held = _Held()
    with RegistryClient(image) as client:
        top, media_type, top_digest = _get_manifest(client, image.reference, "image", held)
        if media_type not in oci.INDEX_TYPES:
            platform = _platform(client, top_digest, "", top, media_type, held)
            return BaseImage(image, None, media_type, (platform,), top_digest)
        platforms = []
        for entry in oci.image_entries(top):
            digest = str(entry["digest"])
            name = oci.platform_name(entry.get("platform"))
            manifest, entry_type, _ = _get_manifest(client, digest, "manifest", held, name)
            platforms.append(_platform(client, digest, name, manifest, entry_type, held))
        return BaseImage(image, top, media_type, tuple(platforms), top_digest)


def recorded_base(record: BaseRecord) -> str:
    """The base an image records (`provenance.base_of`), pinned: `repository@digest`, for `build
    --in-registry --if-stale` (a rotation re-bake onto the very base, wherever its tag points now)."""
    ref = push_target(record.ref)
    return f"{ref.host}/{ref.repository}@{record.digest}"


def read_recorded_base(record: BaseRecord) -> BaseImage:
    """The base an image records, read from its registry.  The name it records is read first: when
    it still names that base (its digest, or, for an image baked on an engine, which records the
    engine's image id, a platform whose config has that digest), that is the base.  Otherwise the
    tag moved: the registry road's record is read by digest (`recorded_base`); an engine's image
    id is no manifest digest, and then the error says so."""
    try:
        named: BaseImage | None = read_base(record.ref)
    except ImageError:
        named = None
    if named is not None and (
        named.digest == record.digest
        or any(oci.digest_of(p.config) == record.digest for p in named.platforms)
    ):
        return named
    try:
        return read_base(recorded_base(record))
    except ImageError as exc:
        raise ImageError(
            f"the image to re-bake records its base as {untrusted(record.ref)} ({record.digest}), "
            f"which its registry no longer serves ({exc.message}); an image baked on an engine "
            "records the engine's image id, found only while the name still points at it",
            hint="run `baker build --in-registry` without --if-stale to bake onto image.from as it is now",
        ) from None


# --- the bake -------------------------------------------------------------------------------------


class _Baked(Record):
    configs: tuple[oci.Blob, ...]
    manifests: tuple[oci.Blob, ...]  # in platform order
    top: oci.Blob  # the index, or the single manifest
    layer: oci.Blob | None = None  # the `files:` layer (it holds values), one blob for every platform


def _bake(
    base: BaseImage,
    env: Sequence[tuple[str, str]],
    label: str,
    *,
    created: str | None = None,
    files: fileslayer.FilesLayer | None = None,
) -> _Baked:
    created = created or oci.now()
    comment = f"baker {__version__}: values in Env; their sources in the label {LABEL}"
    configs: list[oci.Blob] = []
    manifests: list[oci.Blob] = []
    layer: oci.Blob | None = None
    for platform in base.platforms:
        config = oci.bake_config(
            platform.config,
            env,
            {LABEL: label},
            created=created,
            comment=comment,
            media_type=platform.config_media_type,
            layer=(files.diff_id, files.paths) if files is not None else None,
        )
        configs.append(config)
        # The same gzip bytes for every platform; only the descriptor's type follows each manifest.
        layer = files.blob(platform.media_type) if files is not None else None
        manifests.append(oci.bake_manifest(platform.manifest, config, platform.media_type, layer))
    if base.index is None:
        top = manifests[0]
    else:
        baked = {p.digest: m for p, m in zip(base.platforms, manifests, strict=True)}
        top = oci.bake_index(base.index, baked, base.media_type)
    return _Baked(tuple(configs), tuple(manifests), top, layer)


def _layers(base: BaseImage) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for platform in base.platforms:
        for layer in oci.layer_descriptors(platform.manifest):
            if not any(word in str(layer.get("mediaType", "")) for word in _FOREIGN):
                seen.setdefault(str(layer["digest"]), layer)
    return list(seen.values())


class Budget:
    """The whole bake's time (`timeout`, after the base is read): every registry client of the bake
    gets at most what is left of it, so no registry, the base's least of all (often one the user
    does not run), can stretch a bake past it, whatever sizes it declares or however it trickles.
    `spent`: seconds of it already used (the tags' first read, made before resolution by
    `check_targets`); the values' resolution in between is not counted, as it never was."""

    def __init__(self, seconds: float, *, spent: float = 0.0) -> None:
        self.seconds = seconds
        self.start = time.monotonic() - spent
        self.end = self.start + seconds

    @property
    def spent(self) -> float:
        return time.monotonic() - self.start

    def deadline(self, wanted: float = DEADLINE) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise ImageError(
                f"the in-registry bake did not finish within {self.seconds:g} s",
                hint="check that the registries are up; a large layer copied between registries may "
                "need more: pass --timeout SECONDS",
            )
        return min(wanted, left)


def _place_layers(
    base: BaseImage, dest: ImageRef, on_line: Callable[[str], None], budget: Budget | None = None
) -> None:
    """Every layer of the base in `dest`: already there, mounted from the base's repository (same
    registry), or streamed from the base's registry (each copy with a deadline for its size at
    `COPY_RATE`, within the bake's `budget`)."""
    budget = budget if budget is not None else Budget(BAKE_DEADLINE)
    same_host = dest.host == base.ref.host
    source_repo = base.ref.repository if same_host and dest.repository != base.ref.repository else None
    to_copy: list[dict[str, Any]] = []
    with RegistryClient(
        dest, push=True, pull_from=(source_repo,) if source_repo else (), deadline=budget.deadline()
    ) as client:
        for layer in _layers(base):
            digest = str(layer["digest"])
            if registry_push.blob_exists(client, digest):
                continue
            if source_repo is not None:
                location = registry_push.start_upload(client, mount=digest, source=source_repo)
                if location is None:
                    continue
                # 202: this registry does not mount (the distribution spec allows it).  Its upload is
                # dropped; the copy below starts its own on a client that signs in on that bodiless
                # POST, so the streamed PUT goes out authenticated (a stream cannot be sent twice).
                registry_push.cancel_upload(client, location)
            to_copy.append(layer)
    for layer in to_copy:
        size = int(layer.get("size") or 0)
        on_line(f"copying layer {layer['digest']} ({size / MIB:.1f} MiB) from {base.ref.host} to {dest.host}")
        seconds = budget.deadline(DEADLINE + size / COPY_RATE)
        with (
            RegistryClient(base.ref, deadline=seconds) as source,
            RegistryClient(dest, push=True, deadline=seconds) as sink,
        ):
            registry_push.copy_blob(source, sink, None, layer)


def _push_values(
    base: BaseImage, baked: _Baked, dest: ImageRef, budget: Budget, commit: undo.Commit, stop: signals.Hold
) -> None:
    """The configs (they hold the values), the manifests and the index into `dest`, by digest; no
    tag.  Each is recorded before its PUT (for `undo`); a stop acts between two of them."""
    with RegistryClient(dest, push=True, deadline=budget.deadline()) as client:
        items = [("blobs", baked.layer)] if baked.layer is not None else []
        items += [("blobs", config) for config in baked.configs]
        items += [("manifests", manifest) for manifest in baked.manifests]
        if base.index is not None:
            items.append(("manifests", baked.top))
        for kind, blob in items:
            stop.checkpoint()
            role = "files layer" if blob is baked.layer else ""
            commit.pushed.append(undo.Pushed(dest, kind, blob.digest, role))
            if kind == "blobs":
                registry_push.upload(client, blob)
            else:
                registry_push.put_manifest(client, blob.digest, blob)


class CheckedTargets(Record):
    """What the registry road asks of its tags before any value is resolved (`check_targets`), as
    the engine road's `image.bake.CheckedTags`: each tag a name to push to, and what each names now
    in its registry (`previous`: the exact bytes and media type, None where the tag does not exist
    yet), read with the push's credentials, so a registry that does not answer or refuses them
    refuses the bake before anything is fetched.  `spent`: the seconds those reads took of the
    bake's `timeout` (the bake gets what is left)."""

    tags: tuple[str, ...]
    revoke_superseded: bool
    previous: undo.Previous
    spent: float = 0.0

    def made_for(self, tags: Sequence[str], *, revoke_superseded: bool) -> bool:
        """Whether these checks are a bake's of `tags` with this option (else it makes its own)."""
        return (self.tags, self.revoke_superseded) == (tuple(tags), revoke_superseded)


def _targets(manifest: Manifest, tags: Sequence[str]) -> dict[str, ImageRef]:
    """Each tag as the place it is pushed to, its name checked as the engine road checks it
    (`imageref.validate_names`; bad usage, exit 2, as the command says it), before any network call."""
    if not tags:
        raise UsageError(
            "--in-registry needs a tag to push to", hint="set image.tag in the manifest or pass --tag"
        )
    try:
        imageref.validate_names(tags, manifest.image.base)
    except RenderError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    return {name: target(name) for name in tags}


def check_targets(
    manifest: Manifest,
    tags: Sequence[str],
    *,
    revoke_superseded: bool = False,
    timeout: float = BAKE_DEADLINE,
) -> CheckedTargets:
    """The registry road's checks of its tags and the registries' answers it needs (what each tag
    names now: the undo's record and `--revoke-superseded`'s first read, one GET serving both),
    within `timeout`: the pipeline makes them before anything is resolved (no registry, no fetch),
    or its caller before a staleness check that reads secrets (`build --if-stale`,
    `commands.build.check_first`), and hands them to `bake_in_registry`, which makes them itself
    when not handed them (`CheckedTargets.made_for`)."""
    refs = _targets(manifest, tags)
    budget = Budget(timeout)
    previous = _read_tags(refs, budget, revoke_superseded)
    return CheckedTargets(tuple(tags), revoke_superseded, previous, budget.spent)


def bake_in_registry(
    manifest: Manifest,
    resolved: ResolvedEnv,
    *,
    tags: Sequence[str],
    on_line: Callable[[str], None],
    base: BaseImage | None = None,
    timeout: float = BAKE_DEADLINE,
    revoke_superseded: bool = False,
    recorded: BaseRecord | None = None,
    checked: CheckedTargets | None = None,
) -> RegistryBake:
    """Bake `resolved` onto `manifest.image.from` in its registry and put every tag: the Python
    API of `baker build --in-registry`.  `base` is the base already read (`read_base`), if it was;
    `timeout` bounds the bake after that (seconds).  `recorded`: the base an earlier bake recorded
    (`build --if-stale`): the bake goes onto that digest (`recorded_base`), and records it again.
    `checked`: `check_targets` of these tags and `revoke_superseded`, made before resolution (the
    pipeline does); made here, after the base is read, when not given or made for another bake.

    Stop signals (`baker.signals`) are held from the first value pushed through the last tag: a
    stop before the first tag undoes the bake (`inregistry_undo`) and raises `BakeStopped`; from the
    first tag on, the bake completes and says so in `RegistryBake.stopped`.  A failure after the
    first push undoes the bake too and raises `RegistryBakeFailed`, naming whatever could not be
    undone.

    `revoke_superseded`: once the bake completed (every tag moved), delete the baked images the
    tags named before (`registry.revoke`; `RegistryBake.revocation`): the first read (`checked`),
    and the read of each tag just before it moves; the revocation is never part of an undo, and a
    failed or stopped bake revokes nothing."""
    if manifest.image.base is None:
        raise UsageError("--in-registry bakes onto image.from; this manifest has image.build")
    refs = _targets(manifest, tags)
    if checked is not None and not checked.made_for(tags, revoke_superseded=revoke_superseded):
        checked = None  # made for another bake: made here
    targets: dict[tuple[str, str], ImageRef] = {}
    for ref in refs.values():
        targets.setdefault((ref.host, ref.repository), ref)
    budget = Budget(timeout, spent=checked.spent if checked is not None else 0.0)
    if base is None:
        base = read_recorded_base(recorded) if recorded is not None else read_base(manifest.image.base)
    record = BaseRecord(recorded.ref if recorded is not None else manifest.image.base, base.digest)
    # What each tag names now (exact bytes, for the undo; their digests, for the revocation), read
    # before any value is revealed or anything pushed (`check_targets`): a registry that cannot say
    # stops the bake.  Each tag is read again just before it moves (`_named_now`): the undo puts
    # back what it named then, not what it named before the values were resolved.
    first = checked.previous if checked is not None else _read_tags(refs, budget, revoke_superseded)
    previous = dict(first)
    env = [(entry.env, entry.value.reveal()) for entry in resolved.entries]
    created = oci.now()
    files = fileslayer.layer_for(manifest, resolved, created=created)
    baked = _bake(base, env, to_label(resolved, manifest, base=record), created=created, files=files)
    del env, files
    platforms = tuple(p.name for p in base.platforms)
    shown_platforms = untrusted(", ".join(platforms))
    with_files = f" and {len(resolved.files)} files (one layer)" if resolved.files else ""
    on_line(
        f"baking {len(resolved.entries)} values{with_files} onto {shown_platforms} of {manifest.image.base}"
    )
    for dest in targets.values():  # the base's layers: no value in them, nothing to undo
        _place_layers(base, dest, on_line, budget)
    commit = undo.Commit(top=baked.top.digest)
    meanwhile: dict[str, str | None] = {}  # with revoke_superseded: what each tag named just before
    with signals.held(escape=3) as stop:
        try:
            for dest in targets.values():
                _push_values(base, baked, dest, budget, commit, stop)
            stop.checkpoint()  # the last point where a stop undoes the bake
            commit.committing = True  # from the first tag on, the bake completes
            for name, ref in refs.items():
                commit.attempted.append((name, ref))
                now = _named_now(name, ref, budget)  # anyone may have moved it since the first read
                previous.update(now)  # the undo puts back what it named just before it moved
                if revoke_superseded and now:  # superseded too: an overlapping bake put it there
                    named = now[name]
                    meanwhile[name] = named.digest if named is not None else None
                with RegistryClient(ref, push=True, deadline=budget.deadline()) as client:
                    registry_push.put_manifest(client, ref.reference, baked.top)
        except KeyboardInterrupt:
            if commit.committing:  # a third signal during the tag step: no more network
                outcome = undo.named_on_escape(commit, on_line)
            else:
                on_line("stopped before any tag moved: undoing the bake")
                outcome = undo.undo(commit, previous, on_line, first=first)
            raise BakeStopped(outcome.left, outcome.not_restored) from None
        except BaseException as exc:
            outcome = undo.undo(commit, previous, on_line, first=first)
            if isinstance(exc, BakerError) and (commit.pushed or commit.attempted):
                raise RegistryBakeFailed(exc, outcome.left, outcome.not_restored) from None
            raise
        stopped = stop.consume()
    pushed = tuple(Pushed(name, baked.top.digest) for name in refs)
    revocation = None
    if revoke_superseded:  # the bake completed: every tag names it now
        before = {name: (blob.digest if blob is not None else None) for name, blob in first.items()}
        revocation, cut = revoke.revoke_after_bake(
            before, {p.tag: p.digest for p in pushed}, on_line=on_line, meanwhile=meanwhile
        )
        stopped = stopped or cut
    return RegistryBake(
        baked.top.digest, baked.top.media_type, tuple(refs), platforms, pushed, stopped, revocation
    )


def _read_tags(refs: dict[str, ImageRef], budget: Budget, revoke_superseded: bool) -> undo.Previous:
    """`undo.read_tags`, tag by tag: with `revoke_superseded`, a refusal names that option (as the
    engine path's `revoke.read_before` does)."""
    previous: undo.Previous = {}
    for name, ref in refs.items():
        try:
            previous.update(undo.read_tags([(name, ref)], budget.deadline))
        except ImageError as exc:
            if not revoke_superseded:
                raise
            raise revoke.unreadable(name, exc) from None
    return previous


def _named_now(name: str, ref: ImageRef, budget: Budget) -> undo.Previous:
    """What `name` names just before this bake moves it, read again (`undo.read_tags`): the first
    read was made before the values were resolved, and a bake of the same tag (or anyone) may have
    moved it since.  At best: nothing when it cannot be read (the first read then stands)."""
    try:
        return undo.read_tags([(name, ref)], budget.deadline)
    except ImageError:
        return {}


__all__ = [
    "BaseImage",
    "CheckedTargets",
    "Pushed",
    "RegistryBake",
    "bake_in_registry",
    "check_targets",
    "read_base",
    "read_recorded_base",
    "recorded_base",
]

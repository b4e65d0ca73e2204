"""`baker build --in-registry`: bake straight in the registry, without a Docker engine.

    read the base (index or manifest, each platform's manifest and config)   [before any secret]
    per platform: the base config + Env + provenance label + a history entry ─▶ config blob
                  the base manifest pointing at it (same layers)             ─▶ manifest
    the base index pointing at the baked manifests (attestations dropped)    ─▶ index
    per target repository: layers present (HEAD), mounted (same registry) or streamed (another
        registry); config blobs; manifests by digest; the index by digest
    then, only when every target holds everything: each tag (PUT by tag, the same bytes)

A manifest PUT is refused while a blob it names is missing, and nothing is tagged before every
target repository holds the whole image, so a failure before the tags moves no tag.  A tag refused
after another was moved (an immutable tag, a quota) is named with the tags already moved.

The baked config bytes hold the values: they live in memory only, are sent as they were hashed,
and never appear in a message, a log record or a file.

With `revoke_superseded`, what each tag names is read before anything is pushed, and after the tags
moved the baked image a tag no longer names is deleted from the registry (`registry.revoke`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from baker import __version__
from baker.errors import ImageError, UsageError
from baker.image import oci
from baker.image.registry import push as registry_push
from baker.image.registry import revoke
from baker.image.registry.client import (
    CONFIG_MAX,
    DEADLINE,
    MANIFEST_MAX,
    MIB,
    ImageRef,
    RegistryClient,
    parse_json,
)
from baker.image.registry.read import push_target
from baker.imageref import shown
from baker.model import Manifest
from baker.provenance import LABEL, to_label
from baker.resolver import ResolvedEnv

_FOREIGN = ("nondistributable", "foreign")  # layers a registry never holds (Windows base layers)


@dataclass(frozen=True)
class BasePlatform:
    name: str  # linux/amd64
    digest: str  # the base manifest's digest
    manifest: dict[str, Any]
    media_type: str
    config: bytes  # the base config, as the registry sent it (no value of baker's in it)
    config_media_type: str


@dataclass(frozen=True)
class BaseImage:
    ref: ImageRef
    index: dict[str, Any] | None  # None for a single-manifest base
    media_type: str
    platforms: tuple[BasePlatform, ...]


@dataclass(frozen=True)
class Pushed:
    tag: str
    digest: str


@dataclass(frozen=True)
class RegistryBake:
    digest: str  # the index's, or the single manifest's
    media_type: str
    tags: tuple[str, ...]
    platforms: tuple[str, ...]
    pushed: tuple[Pushed, ...]
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


def _get_manifest(client: RegistryClient, reference: str, what: str) -> tuple[dict[str, Any], str]:
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
    raw = client.read(response, "manifest", MANIFEST_MAX)
    if reference.startswith("sha256:") and oci.digest_of(raw) != reference:
        raise ImageError(
            f"the manifest the registry {client.ref.host} sent does not match its digest {reference}"
        )
    document = parse_json(raw, "manifest")
    return document, oci.media_type_of(document, content_type)


def _platform(
    client: RegistryClient, digest: str, name: str, manifest: dict[str, Any], media_type: str
) -> BasePlatform:
    if media_type not in oci.IMAGE_TYPES:
        raise ImageError(
            f"the base image's manifest ({name}) has the type {media_type}, which baker cannot bake"
        )
    descriptor = manifest.get("config")
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
        raise ImageError(f"the base image's manifest ({name}) names no config blob")
    oci.layer_descriptors(manifest)
    config_digest = str(descriptor["digest"])
    response = client.get(f"{client.ref.base_url}/blobs/{config_digest}", "*/*")
    if response.status_code != 200:
        response.close()
        raise ImageError(
            f"the registry {client.ref.host} answered HTTP {response.status_code} for the base config"
        )
    raw = client.read(response, "image config", CONFIG_MAX)
    if oci.digest_of(raw) != config_digest:
        raise ImageError("the base config the registry sent does not match its digest")
    if name == "":
        name = oci.platform_name(parse_json(raw, "image config"))
    return BasePlatform(name, digest, manifest, media_type, raw, str(descriptor.get("mediaType") or ""))


def read_base(ref: str) -> BaseImage:
    """The base's index (if any), each platform's manifest and config, read without any layer."""
    image = push_target(ref)
    with RegistryClient(image) as client:
        top, media_type = _get_manifest(client, image.reference, "image")
        if media_type not in oci.INDEX_TYPES:
            digest = oci.digest_of(oci.serialize(top))  # not sent: a name for messages only
            return BaseImage(image, None, media_type, (_platform(client, digest, "", top, media_type),))
        platforms = []
        for entry in oci.image_entries(top):
            digest = str(entry["digest"])
            manifest, entry_type = _get_manifest(client, digest, "manifest")
            platforms.append(
                _platform(client, digest, oci.platform_name(entry.get("platform")), manifest, entry_type)
            )
        return BaseImage(image, top, media_type, tuple(platforms))


# --- the bake -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Baked:
    configs: tuple[oci.Blob, ...]
    manifests: tuple[oci.Blob, ...]  # in platform order
    top: oci.Blob  # the index, or the single manifest


def _bake(base: BaseImage, env: Sequence[tuple[str, str]], label: str) -> _Baked:
    created = oci.now()
    comment = f"baker {__version__}: values in Env; their sources in the label {LABEL}"
    configs: list[oci.Blob] = []
    manifests: list[oci.Blob] = []
    for platform in base.platforms:
        config = oci.bake_config(
            platform.config,
            env,
            {LABEL: label},
            created=created,
            comment=comment,
            media_type=platform.config_media_type,
        )
        configs.append(config)
        manifests.append(oci.bake_manifest(platform.manifest, config, platform.media_type))
    if base.index is None:
        top = manifests[0]
    else:
        baked = {p.digest: m for p, m in zip(base.platforms, manifests, strict=True)}
        top = oci.bake_index(base.index, baked, base.media_type)
    return _Baked(tuple(configs), tuple(manifests), top)


def _layers(base: BaseImage) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for platform in base.platforms:
        for layer in oci.layer_descriptors(platform.manifest):
            if not any(word in str(layer.get("mediaType", "")) for word in _FOREIGN):
                seen.setdefault(str(layer["digest"]), layer)
    return list(seen.values())


def _place_layers(base: BaseImage, dest: ImageRef, on_line: Callable[[str], None]) -> None:
    """Every layer of the base in `dest`: already there, mounted from the base's repository (same
    registry), or streamed from the base's registry (each copy with a deadline for its size)."""
    same_host = dest.host == base.ref.host
    source_repo = base.ref.repository if same_host and dest.repository != base.ref.repository else None
    to_copy: list[tuple[dict[str, Any], str | None]] = []
    with RegistryClient(dest, push=True, pull_from=(source_repo,) if source_repo else ()) as client:
        for layer in _layers(base):
            digest = str(layer["digest"])
            if registry_push.blob_exists(client, digest):
                continue
            if source_repo is not None:
                location = registry_push.start_upload(client, mount=digest, source=source_repo)
                if location is None:
                    continue
                to_copy.append((layer, location))
            else:
                to_copy.append((layer, None))
    for layer, location in to_copy:
        size = int(layer.get("size") or 0)
        on_line(f"copying layer {layer['digest']} ({size / MIB:.1f} MiB) from {base.ref.host} to {dest.host}")
        seconds = DEADLINE + size / MIB  # at least 1 MiB/s
        with (
            RegistryClient(base.ref, deadline=seconds) as source,
            RegistryClient(dest, push=True, deadline=seconds) as sink,
        ):
            registry_push.copy_blob(source, sink, location, layer)


def _push_image(base: BaseImage, baked: _Baked, dest: ImageRef, on_line: Callable[[str], None]) -> None:
    """Everything the image references into `dest`, by digest; no tag."""
    _place_layers(base, dest, on_line)
    with RegistryClient(dest, push=True) as client:
        for config in baked.configs:
            registry_push.upload(client, config)
        for manifest in baked.manifests:
            registry_push.put_manifest(client, manifest.digest, manifest)
        if base.index is not None:
            registry_push.put_manifest(client, baked.top.digest, baked.top)


def bake_in_registry(
    manifest: Manifest,
    resolved: ResolvedEnv,
    *,
    tags: Sequence[str],
    on_line: Callable[[str], None],
    base: BaseImage | None = None,
    revoke_superseded: bool = False,
) -> RegistryBake:
    """Bake `resolved` onto `manifest.image.from` in its registry and put every tag: the Python
    API of `baker build --in-registry`.  `base` is the base already read (`read_base`), if it was.
    `revoke_superseded`: then delete the baked images the tags named before."""
    if manifest.image.base is None:
        raise UsageError("--in-registry bakes onto image.from; this manifest has image.build")
    if not tags:
        raise UsageError(
            "--in-registry needs a tag to push to", hint="set image.tag in the manifest or pass --tag"
        )
    targets: dict[tuple[str, str], ImageRef] = {}
    for name in tags:
        ref = target(name)
        targets.setdefault((ref.host, ref.repository), ref)
    if base is None:
        base = read_base(manifest.image.base)
    # What the tags name now, read before anything moves: a registry that cannot say stops the bake.
    before = revoke.read_before(tags) if revoke_superseded else None
    env = [(entry.env, entry.value.reveal()) for entry in resolved.entries]
    baked = _bake(base, env, to_label(resolved, manifest))
    del env
    platforms = tuple(p.name for p in base.platforms)
    on_line(f"baking {len(resolved.entries)} values onto {', '.join(platforms)} of {manifest.image.base}")
    for dest in targets.values():
        _push_image(base, baked, dest, on_line)
    pushed: list[Pushed] = []
    try:
        for name in tags:
            ref = target(name)
            with RegistryClient(ref, push=True) as client:
                registry_push.put_manifest(client, ref.reference, baked.top)
            pushed.append(Pushed(name, baked.top.digest))
    except BaseException:
        if pushed:
            on_line(f"already tagged, cannot be taken back: {', '.join(p.tag for p in pushed)}")
        raise
    revocation = (
        revoke.revoke_superseded(before, {p.tag: p.digest for p in pushed}, on_line=on_line)
        if before is not None
        else None
    )
    return RegistryBake(
        baked.top.digest, baked.top.media_type, tuple(tags), platforms, tuple(pushed), revocation
    )


__all__ = ["BaseImage", "Pushed", "RegistryBake", "bake_in_registry", "read_base"]

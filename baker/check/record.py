"""What a baked image says about itself: its provenance record, and the literal values of its Env,
read from the local engine or, without pulling, from its registry.  `check` and
`build --if-stale` compare this with the manifest and Key Vault (`baker.check.compare`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from baker import imageref
from baker.errors import EngineError, ImageNotFound, NoRecord, UsageError
from baker.provenance import LABEL, BaseRecord, Origin, base_of, from_label
from baker.record import Record


class BakedImage(Record):
    ref: str
    id: str | None  # the local image id, or the config digest read from the registry
    where: str  # "local" or "registry"
    origins: tuple[Origin, ...]
    env: Mapping[str, str]
    base: BaseRecord | None = None  # what it was baked onto, when the record says (`build --if-stale`)


def _literal_env(env: list[str] | tuple[str, ...], origins: tuple[Origin, ...]) -> dict[str, str]:
    """The image's Env, kept only for the variables its record says were literals (they come from
    git and are compared with the manifest).  Every other value is a secret `check` never needs: it
    is dropped here, so no secret value is held, let alone shown, by `check`."""
    literals = {o.env for o in origins if o.kind == "literal"}
    pairs = (item.partition("=") for item in env)
    return {name: value for name, _, value in pairs if name in literals}


Source = Literal["engine", "registry"]


def default_source(ref: str) -> Source:
    """Where the copy a deploy would pull lives: the registry for a reference that names a registry
    host, the engine for a local name."""
    # Guard: `import baker` / `baker.evaluate` stay free of requests until an image is read.
    from baker.image.registry import read as registry

    return "registry" if registry.names_registry(ref) else "engine"


def read_baked(ref: str, *, registry_only: bool = False, source: Source | None = None) -> BakedImage:
    """The provenance record and Env of `ref`, read where `source` says: the local engine, or the
    registry's manifest and config blob (without pulling layers).  By default (`check` without
    `--source`) the copy a deploy would pull: the registry for a reference naming a registry host,
    the engine for a local name; `registry_only` (`build --in-registry --if-stale`) is `registry`.
    A reference naming a registry read from the engine, where no engine answers, is read from its
    registry (a CI job without docker)."""
    # Guards: `import baker` / `baker.evaluate` stay free of docker and requests until an image is read.
    from baker.image.engine import inspect_image
    from baker.image.registry import read as registry

    imageref.parse(ref)  # not a Docker reference: refused (exit 2) before the engine or a registry
    where: Source = "registry" if registry_only else (source or default_source(ref))
    if where == "registry" and not registry.names_registry(ref):
        raise UsageError(
            f"image {ref} names no registry host, so it cannot be read from a registry",
            hint="name it with its registry host (registry.example.com/app:tag), or use --source engine",
        )
    info = None
    if where == "engine":
        try:
            info = inspect_image(ref)
        except EngineError:
            if not registry.names_registry(ref) or source == "engine":
                raise
            where = "registry"  # no engine here: the registry can still answer
        if info is None and source != "engine" and registry.names_registry(ref):
            where = "registry"
    if info is not None:
        labels, env, image_id, found = dict(info.labels or {}), list(info.env or []), info.id, "local"
    elif where == "registry":
        remote = registry.fetch_config(ref)
        if remote is None:
            raise ImageNotFound(
                f"image {ref} is not in its registry",
                hint="check the reference (registry, repository, tag), or bake it with `baker build --push`"
                " (or `--in-registry`); `--source engine` reads the local engine's copy instead",
            )
        labels, env, image_id, found = dict(remote.labels), list(remote.env), remote.digest, "registry"
    else:
        raise ImageNotFound(
            f"image {ref} is not in the local engine",
            hint="pull it first, or name it with its registry host (registry.example.com/app:tag) so baker "
            "reads its record from the registry",
        )
    text = labels.get(LABEL)
    if text is None:
        raise NoRecord(
            f"image {ref} has no provenance record (label {LABEL}): it was not baked by baker",
            hint="bake it with `baker build`; `check` compares an image baker made with the manifest",
        )
    origins = from_label(text)
    return BakedImage(ref, image_id, found, origins, _literal_env(env, origins), base_of(text))

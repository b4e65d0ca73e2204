"""What a baked image says about itself: its provenance record, and the literal values of its Env,
read from the local engine or, without pulling, from its registry.  `check` and
`build --if-stale` compare this with the manifest and Key Vault (`baker.check.compare`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from baker import imageref
from baker.errors import EngineError, ImageNotFound, NoRecord
from baker.provenance import LABEL, Origin, from_label


@dataclass(frozen=True)
class BakedImage:
    ref: str
    id: str | None  # the local image id, or the config digest read from the registry
    where: str  # "local" or "registry"
    origins: tuple[Origin, ...]
    env: Mapping[str, str]


def _literal_env(env: list[str] | tuple[str, ...], origins: tuple[Origin, ...]) -> dict[str, str]:
    """The image's Env, kept only for the variables its record says were literals (they come from
    git and are compared with the manifest).  Every other value is a secret `check` never needs: it
    is dropped here, so no secret value is held, let alone shown, by `check`."""
    literals = {o.env for o in origins if o.kind == "literal"}
    pairs = (item.partition("=") for item in env)
    return {name: value for name, _, value in pairs if name in literals}


def read_baked(ref: str, *, registry_only: bool = False) -> BakedImage:
    """The provenance record and Env of `ref`: from the local engine, else (for a reference that
    names a registry host) from the registry's manifest and config blob, without pulling layers.
    `registry_only` (`build --in-registry --if-stale`) never asks an engine."""
    # Guards: `import baker` / `baker.evaluate` stay free of docker and requests until an image is read.
    from baker.image.engine import inspect_image
    from baker.image.registry import read as registry

    imageref.parse(ref)  # not a Docker reference: refused (exit 2) before the engine or a registry
    info = None
    try:
        if not registry_only:
            info = inspect_image(ref)
    except EngineError:
        if not registry.names_registry(ref):
            raise
        info = None  # no engine here (a CI job without docker): the registry can still answer
    if info is not None:
        labels, env, image_id, where = dict(info.labels or {}), list(info.env or []), info.id, "local"
    elif registry.names_registry(ref):
        remote = registry.fetch_config(ref)
        if remote is None:
            raise ImageNotFound(
                f"image {ref} is neither in the local engine nor in its registry",
                hint="check the reference (registry, repository, tag), or bake it with `baker build --push`",
            )
        labels, env, image_id, where = dict(remote.labels), list(remote.env), remote.digest, "registry"
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
    return BakedImage(ref, image_id, where, origins, _literal_env(env, origins))

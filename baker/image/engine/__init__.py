"""The Docker engine: the base's config read, the baked config loaded, tag, push, inspect, clean up,
and the app image built.  Only this package (and `baker.image.dockerconfig`) imports `docker`;
every docker exception becomes an `EngineError` here.

- `client`: `connect()`, the `DockerClient` protocol, exception translation, `inspect_image`;
- `load`: the bake's engine half: the base's exact config (`docker save`, read up to it) and the
  baked config loaded over the layers the engine holds (or with them, `wants_layers`);
- `build`: the app image's build (`image.build`), the base pulled;
- `tags`: tags recorded before they move (and put back), the lease, the push;
- `cleanup`: what a failed bake loaded and what a re-bake superseded, removed; `steps` its pure rules;
- `stream`: the engine's JSON progress stream, redacted; `request`: the app build request's size
  check; `types`: the plain values handed back.

The names below are what the bake pipelines call (`baker.image.bake`, `baker.check.record`...); tests
replace them here to reach those callers.
"""

from __future__ import annotations

from baker.image.engine.build import build_image, ensure_image
from baker.image.engine.cleanup import remove_image, remove_loaded, remove_superseded
from baker.image.engine.client import DockerClient, connect, inspect_image
from baker.image.engine.load import OpenedLoad, base_config, load_config, open_load, wants_layers
from baker.image.engine.tags import LEASE_REPOSITORY, lease_name, push, release, restore_tags, tag
from baker.image.engine.types import ImageInfo, Pushed, TagUndo

__all__ = [
    "LEASE_REPOSITORY",
    "DockerClient",
    "ImageInfo",
    "OpenedLoad",
    "Pushed",
    "TagUndo",
    "base_config",
    "build_image",
    "connect",
    "ensure_image",
    "inspect_image",
    "lease_name",
    "load_config",
    "open_load",
    "push",
    "release",
    "remove_image",
    "remove_loaded",
    "remove_superseded",
    "restore_tags",
    "tag",
    "wants_layers",
]

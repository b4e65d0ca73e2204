"""The Docker engine: build, tag, push, inspect, clean up.  Only this package (and
`baker.image.dockerconfig`) imports `docker`; every docker exception becomes an `EngineError` here.

- `client`: `connect()`, the `DockerClient` protocol, exception translation, `inspect_image`;
- `build`: the bake's build (Dockerfile-only context) and the app image's, the base pulled;
- `tags`: tags recorded before they move (and put back), the lease, the push;
- `cleanup`: what a failed bake made and what a re-bake superseded, removed; `steps` its pure rules;
- `stream`: the engine's JSON progress stream, redacted; `request`: the build request's size check
  and in-memory context; `types`: the plain values handed back.

The names below are what the bake pipelines call (`baker.image.bake`, `baker.check.record`...); tests
replace them here to reach those callers.
"""

from __future__ import annotations

from baker.image.engine.build import build_image, ensure_image
from baker.image.engine.cleanup import leftovers, remove_image, remove_labelled, remove_superseded
from baker.image.engine.client import DockerClient, connect, engine_logs_requests, inspect_image
from baker.image.engine.tags import LEASE_REPOSITORY, lease, push, release, restore_tags, tag
from baker.image.engine.types import ImageInfo, Pushed, TagUndo

__all__ = [
    "LEASE_REPOSITORY",
    "DockerClient",
    "ImageInfo",
    "Pushed",
    "TagUndo",
    "build_image",
    "connect",
    "engine_logs_requests",
    "ensure_image",
    "inspect_image",
    "lease",
    "leftovers",
    "push",
    "release",
    "remove_image",
    "remove_labelled",
    "remove_superseded",
    "restore_tags",
    "tag",
]

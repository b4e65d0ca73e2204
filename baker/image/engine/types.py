"""What the engine modules hand back: plain values, no docker types (so `check`, `build` and the tests
use them without the SDK)."""

from __future__ import annotations

from collections.abc import Mapping

from baker.record import Record


class ImageInfo(Record):
    id: str
    labels: Mapping[str, str]
    env: tuple[str, ...]
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    workdir: str
    user: str
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    onbuild: tuple[str, ...] = ()  # ONBUILD triggers: they would run inside a bake, values in reach
    parent: str = ""  # the image it was built on (locally built images only)


class Pushed(Record):
    tag: str
    digest: str


TagUndo = tuple[tuple[str, "str | None"], ...]
"""Each tag applied, with the image id it pointed at before (None: it did not exist)."""

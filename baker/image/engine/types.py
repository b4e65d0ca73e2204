"""What the builder hands back: plain values, no docker types (so `check`, `build` and the tests
use them without the SDK)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from baker.errors import EngineError


@dataclass(frozen=True)
class ImageInfo:
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


@dataclass(frozen=True)
class Pushed:
    tag: str
    digest: str


class PushIncomplete(EngineError):
    """A push that failed after other tags of the same bake were pushed.  A registry tag cannot be
    taken back (the local tags are put back; the remote ones stay), so the message and the JSON
    name every tag already pushed, with its digest, for the user to repair by hand.  Its JSON says
    `"error": "EngineError"`, as any other failed push, with a `pushed` list added."""

    def __init__(self, failure: EngineError, pushed: Sequence[Pushed]) -> None:
        self.pushed = tuple(pushed)
        listed = ", ".join(f"{p.tag} ({p.digest})" for p in self.pushed)
        super().__init__(
            f"{failure.message}\nalready pushed, cannot be taken back: {listed}",
            hint=failure.hint,
        )

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out["error"] = EngineError.__name__
        out["pushed"] = [{"tag": p.tag, "digest": p.digest} for p in self.pushed]
        return out


TagUndo = tuple[tuple[str, "str | None"], ...]
"""Each tag applied, with the image id it pointed at before (None: it did not exist)."""

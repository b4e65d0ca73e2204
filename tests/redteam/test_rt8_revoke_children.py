"""Red-team round 8, finding rt8-2: `--revoke-superseded` of an old multi-platform image (an index,
as `build --in-registry` bakes from a multi-platform base) deletes the index, records it `revoked`,
then deletes each platform manifest with its failures only logged at debug level.  Each platform
manifest names a config blob that holds the old values, and stays pullable by its digest
(`repo@sha256:<platform manifest>`): so

- a platform manifest's DELETE that fails (HTTP 500, a cut connection) leaves it pullable, yet the
  revocation is `complete` (exit 0) and neither `not_revoked` nor a warning names it;
- a stop (SIGINT, SIGTERM) during the platform deletes (`revoke_after_bake`) leaves them all, and
  `_stopped` names nothing: the index is `revoked`, and only top-level digests are ever named.

The registry is stood in for at `walk`'s seams (what each tag names, what each digest is) and at
`_delete` (the DELETE's outcome); the rest is `revoke` as it runs.

Fixed: a platform manifest not deleted is named (`not_revoked`, a warning), or the index is deleted
after its platform manifests."""

from __future__ import annotations

from typing import Any

import pytest

from baker.errors import ImageError
from baker.image.registry import revoke, walk
from baker.provenance import LABEL

TAG = "127.0.0.1:5000/team/app:1"
OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64
AMD, ARM = "sha256:" + "c" * 64, "sha256:" + "d" * 64


class _Reader:
    def __init__(self, ref: Any, **kwargs: Any) -> None:
        self.ref = ref

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _old_index() -> walk.Described:
    platforms = tuple(
        walk.Platform(name=name, digest=digest, config="sha256:" + "e" * 64, labels={LABEL: "{}"})
        for name, digest in (("linux/amd64", AMD), ("linux/arm64", ARM))
    )
    return walk.Described(
        digest=OLD,
        media_type="application/vnd.oci.image.index.v1+json",
        children=(AMD, ARM),
        platforms=platforms,
    )


def _registry(monkeypatch: pytest.MonkeyPatch, on_child: BaseException) -> list[str]:
    """The tag names NEW (an index of its own platforms); OLD is the superseded baked index."""
    new = walk.Described(
        digest=NEW, media_type="application/vnd.oci.image.index.v1+json", children=(), platforms=()
    )
    monkeypatch.setattr(walk, "Reader", _Reader)
    monkeypatch.setattr(walk, "list_tags", lambda reader: ["1"])
    monkeypatch.setattr(walk, "tag_digests", lambda reader, tags: {"1": NEW})
    monkeypatch.setattr(walk, "describe_all", lambda reader, digests, labels: {NEW: new})
    monkeypatch.setattr(walk, "describe", lambda reader, digest: _old_index() if digest == OLD else None)
    deleted: list[str] = []

    def delete(reader: Any, digest: str) -> str | None:
        if digest != OLD:
            raise on_child
        deleted.append(digest)
        return None

    monkeypatch.setattr(revoke, "_delete", delete)
    return deleted


def _named(revocation: revoke.Revocation, digest: str) -> bool:
    listed = [item["digest"] for item in revocation.not_revoked]
    return digest in listed or any(digest in warning for warning in revocation.warnings)


def test_rt8_2_a_platform_manifest_not_deleted_is_named_and_the_revocation_is_not_complete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deleted = _registry(
        monkeypatch, ImageError("the registry 127.0.0.1:5000 answered HTTP 500 when asked to delete it")
    )
    revocation, stopped = revoke.revoke_after_bake({TAG: OLD}, {TAG: NEW}, on_line=lambda line: None)
    assert deleted == [OLD] and not stopped
    # AMD and ARM are still pullable by digest, holding the old values: the run must not say complete
    assert _named(revocation, AMD) and _named(revocation, ARM)
    assert not revocation.complete


def test_rt8_2_a_stop_during_the_platform_manifest_deletes_names_them_as_not_revoked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deleted = _registry(monkeypatch, KeyboardInterrupt())
    revocation, stopped = revoke.revoke_after_bake({TAG: OLD}, {TAG: NEW}, on_line=lambda line: None)
    assert deleted == [OLD] and stopped
    assert _named(revocation, AMD) and _named(revocation, ARM)

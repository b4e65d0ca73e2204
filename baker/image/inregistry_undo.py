"""What a failed or stopped in-registry bake (`baker.image.inregistry`) puts back and removes.

A registry has no transaction, so the bake keeps a record (`Commit`) and undoes from it:

- before anything is pushed, every tag's current manifest is read (`read_tags`: its exact bytes
  and media type, or None when the tag does not exist);
- every value-holding thing it pushes (the `files:` layer, config blobs, manifests, the index) is
  recorded before its PUT, every tag before its PUT;
- on a failure (or a stop before the first tag), `undo` puts each tag that now names this bake (the
  digest of the bytes a GET by tag returns, never a HEAD's header, which a cache may serve stale:
  `push.manifest_digest`) back to its previous manifest (PUT by tag with the bytes read before;
  a tag moved meanwhile by someone else is left alone; bytes that can no longer be put back, an
  overlapping bake's image it has deleted since, give way to what the tag named before the bake
  began), then DELETEs what the bake pushed, index
  first, then manifests, then configs, then the files layer.  Deleting a manifest by digest also
  untags it (distribution does), which is how a tag that did not exist before goes again: the
  registry API has no other way to remove a tag.
- What could not be undone is named, `host/repository@sha256:...`: left holding values (a
  registry that does not delete: distribution's default, HTTP 405), and tags still naming this
  bake.  The base's layers are never deleted: they hold no value, and may be shared; the files
  layer holds values and is this bake's own (its tar carries the bake's time), so it is deleted.

Every digest this bake pushes carries its own `created` time (to the microsecond, in the files
layer's entries too) and values, so nothing it deletes can be something another image uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

from baker import signals
from baker.errors import ImageError
from baker.image import oci
from baker.image.registry import push as registry_push
from baker.image.registry.client import RegistryClient
from baker.image.registry.refs import ImageRef
from baker.record import Record, field

Previous = dict[str, oci.Blob | None]  # tag (as given) -> the manifest it named before, None: absent


class Pushed(Record):
    """One value-holding thing the bake pushed: a manifest (or index) or a config blob."""

    dest: ImageRef
    kind: str  # "manifests" or "blobs"
    digest: str
    role: str = ""  # what a blob is when it is no config: "files layer"

    @property
    def shown(self) -> str:
        return f"{self.dest.host}/{self.dest.repository}@{self.digest}"

    @property
    def what(self) -> str:
        return self.role or ("config blob" if self.kind == "blobs" else "manifest")


class Commit(Record, frozen=False):
    """What the bake has pushed and tagged so far, in order."""

    top: str  # the digest every tag is put to (the index's, or the single manifest's)
    pushed: list[Pushed] = field(default_factory=list)
    attempted: list[tuple[str, ImageRef]] = field(default_factory=list)  # tags whose PUT was started
    committing: bool = False  # the first tag PUT was started: from here on the bake completes


class Outcome(Record):
    left: tuple[str, ...]  # pushed, holding values, still in a registry
    not_restored: tuple[str, ...]  # tags still naming this bake


def read_tags(tags: Iterable[tuple[str, ImageRef]], deadline: Callable[[], float]) -> Previous:
    """What each tag names now, read before the bake pushes anything (a refusal then costs nothing)."""
    previous: Previous = {}
    for name, ref in tags:
        with RegistryClient(ref, push=True, deadline=deadline()) as client:
            previous[name] = registry_push.read_manifest(client, ref.reference, oci.ACCEPT)
    return previous


def _key(ref: ImageRef) -> tuple[str, str]:
    return ref.host, ref.repository


def _put_back(
    commit: Commit,
    previous: Previous,
    first: Previous,
    clients: dict[tuple[str, str], RegistryClient],
    on_line: Callable[[str], None],
) -> tuple[list[tuple[str, ImageRef]], list[str]]:
    """Each attempted tag that names this bake goes back to its previous manifest (what it named
    just before this bake moved it).  When that cannot be put back because it is gone (an
    overlapping bake of the tag failed and deleted its image, rt5-1: a GET by its digest finds
    nothing), what the tag named before this bake began (`first`) instead; never for another
    refusal (rt7-1).  The tags that did not exist (they go with the bake's manifest,
    when it is deleted) and the failures."""
    absent: list[tuple[str, ImageRef]] = []
    failed: list[str] = []
    for name, ref in commit.attempted:
        client = clients[_key(ref)]
        try:
            if registry_push.manifest_digest(client, ref.reference, oci.ACCEPT) != commit.top:
                continue  # never moved (refused, cut), or moved since by someone else: left alone
            before = previous.get(name)
            if before is None:
                absent.append((name, ref))
                continue
            try:
                registry_push.put_manifest(client, ref.reference, before)
            except ImageError:
                earlier = first.get(name, before)
                if earlier == before:
                    raise
                # Only when that image is gone (an overlapping bake failed and deleted it): a
                # put-back refused for another reason (a 503) leaves the tag as it is, named (rt7-1:
                # the first read may be what a completed overlapping bake replaced).
                if registry_push.read_manifest(client, before.digest, oci.ACCEPT) is not None:
                    raise
                on_line(
                    f"the image {name} named just before this bake moved it is gone (an overlapping "
                    "bake's, undone?): putting back what it named before this bake began"
                )
                if earlier is None:
                    absent.append((name, ref))
                else:
                    registry_push.put_manifest(client, ref.reference, earlier)
        except ImageError:
            failed.append(name)
    return absent, failed


def _delete(
    commit: Commit, clients: dict[tuple[str, str], RegistryClient]
) -> tuple[list[Pushed], list[Pushed], set[tuple[str, str]]]:
    """DELETE what the bake pushed, the last pushed first (the index before the manifests it lists,
    manifests before their configs).  The deleted, the left, and the targets that do not delete."""
    deleted: list[Pushed] = []
    left: list[Pushed] = []
    no_deletes: set[tuple[str, str]] = set()
    for item in reversed(commit.pushed):
        key = _key(item.dest)
        if key in no_deletes:
            left.append(item)
            continue
        try:
            if registry_push.delete(clients[key], item.kind, item.digest):
                deleted.append(item)
                continue
            no_deletes.add(key)
        except ImageError:
            pass
        left.append(item)
    return deleted, left, no_deletes


def undo(
    commit: Commit, previous: Previous, on_line: Callable[[str], None], *, first: Previous | None = None
) -> Outcome:
    """Put the tags back and delete what the bake pushed (held: more stop signals wait for it; a
    third cuts it short and names everything that may remain); name what is left.  `previous`: what
    each tag named just before the bake moved it; `first`: what it named before the bake began
    (put back when `previous`'s image is gone; by default the same)."""
    everything = Outcome(tuple(p.shown for p in commit.pushed), tuple(name for name, _ in commit.attempted))
    if not commit.pushed and not commit.attempted:
        return Outcome((), ())
    targets = {_key(p.dest): p.dest for p in commit.pushed}
    targets.update({_key(ref): ref for _, ref in commit.attempted})
    with signals.held(escape=3, resume=False), contextlib.ExitStack() as stack:
        clients = {key: stack.enter_context(RegistryClient(ref, push=True)) for key, ref in targets.items()}
        try:
            absent, failed = _put_back(
                commit, previous, previous if first is None else first, clients, on_line
            )
            deleted: list[Pushed] = []
            left: list[Pushed] = list(commit.pushed)
            no_deletes: set[tuple[str, str]] = set()
            # A tag that may still name this bake's image: deleting the image would untag or break
            # it (a tag an overlapping bake had made, rt7-1); then it stays, named as left.
            if not failed:
                deleted, left, no_deletes = _delete(commit, clients)
            still: list[str] = list(failed)
            for name, ref in absent:
                try:
                    named = registry_push.manifest_digest(clients[_key(ref)], ref.reference, oci.ACCEPT)
                except ImageError:
                    named = commit.top
                if named == commit.top:
                    still.append(name)
        except KeyboardInterrupt:
            _say_left(on_line, everything, cut=True)
            return everything
    outcome = Outcome(tuple(p.shown for p in left), tuple(still))
    if deleted:
        listed = ", ".join(f"{p.what} {p.shown}" for p in deleted)
        on_line(f"deleted what this bake had pushed (it held values): {listed}")
    if no_deletes:
        hosts = ", ".join(sorted({f"{host}/{repository}" for host, repository in no_deletes}))
        on_line(f"the registry does not delete manifests or blobs in {hosts} (HTTP 405 or UNSUPPORTED)")
    _say_left(on_line, outcome, cut=False)
    return outcome


def _say_left(on_line: Callable[[str], None], outcome: Outcome, *, cut: bool) -> None:
    may = " may" if cut else ""
    if cut:
        on_line("stopped during the clean-up: what this bake pushed or tagged may remain")
    if outcome.left:
        on_line(
            f"left{may} in the registry, holding values (untagged): {', '.join(outcome.left)}; delete "
            "them through the registry's API (`DELETE /v2/<repository>/manifests/<digest>`, "
            "`.../blobs/<digest>`) or its UI, or let its garbage collection remove untagged manifests"
        )
    if outcome.not_restored:
        on_line(
            f"tag(s) that{may} still name this bake's image, not put back: {', '.join(outcome.not_restored)}"
        )


def named_on_escape(commit: Commit, on_line: Callable[[str], None]) -> Outcome:
    """A third stop signal during the tag step: no more network; every tag started and everything
    pushed is named as possibly left (the bake did not complete, nothing was put back)."""
    outcome = Outcome(tuple(p.shown for p in commit.pushed), tuple(name for name, _ in commit.attempted))
    on_line("stopped during the tag step (a third signal): nothing was put back")
    _say_left(on_line, outcome, cut=True)
    return outcome


__all__ = ["Commit", "Outcome", "Previous", "Pushed", "named_on_escape", "read_tags", "undo"]

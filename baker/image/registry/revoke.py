"""`build --push --revoke-superseded` and `build --in-registry --revoke-superseded`: after a re-bake,
the baked image each tag pointed at before (it holds the old values) is deleted from the registry.

    before the bake:  GET each tag                          -> the digest it names now (of the
                      bytes served, never a HEAD's header: `push.manifest_digest`; in-registry:
                      the bytes its undo reads, one GET serving both)
    after the push:   per repository, the old digests the tags no longer name:
                      list the tags, what each names (`walk`: a request a tag, each distinct
                      index read once for the manifests it holds, each request its own bound)
                      kept when a tag still names it (or an index a tag names holds it),
                      kept when it is no baked image (no provenance label: baker deletes only its own)
                      else DELETE /v2/REPO/manifests/DIGEST, then each of its platform manifests
                      no tag still reaches

A registry that refuses deletes (405, UNSUPPORTED, DENIED) is a warning naming it, never a failed
bake.  A revocation that could not finish is `not_revoked` (the command exits 1, the bake stands):
a repository whose tags could not all be read deletes nothing (a tag not read may still name a
superseded digest, and deleting a manifest untags it), and a delete that failed otherwise than by
the registry's refusal is named.  The bake completed before any of this: a failure here changes
nothing it did, and a stop during it (`revoke_after_bake`, on both roads) ends it there: the bake
stands, each superseded digest not dealt with is `not_revoked`, and the command exits 130.  What a
registry keeps after a manifest delete (its blobs, until its garbage collection runs) is its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from baker.errors import BakerError, ImageError
from baker.image.registry import walk
from baker.image.registry.client import RegistryClient, error_codes
from baker.image.registry.push import manifest_digest
from baker.image.registry.read import MANIFEST_TYPES, push_target
from baker.image.registry.refs import ImageRef
from baker.imageref import shown
from baker.provenance import LABEL
from baker.record import Record, field

_LOG = logging.getLogger(__name__)


def read_before(tags: Sequence[str]) -> dict[str, str | None]:
    """The digest each tag names now (None: no such tag yet), read before anything moves.  A
    registry that cannot say is an error before the bake: nothing built, nothing pushed."""
    before: dict[str, str | None] = {}
    for tag in tags:
        ref = push_target(tag)
        try:
            with RegistryClient(ref) as client:
                before[tag] = manifest_digest(client, ref.reference, ", ".join(MANIFEST_TYPES))
        except ImageError as exc:
            raise unreadable(tag, exc) from None
    return before


def named_now(tag: str, *, deadline: float | None = None) -> str | None:
    """What `tag` names just before this bake moves it, read again: a bake of the same tag that
    overlapped this one may have moved it since the first read, and the image it put there is
    superseded too.  At best: None when it cannot be read (the first read still counts)."""
    ref = push_target(tag)
    try:
        with RegistryClient(ref, deadline=deadline) as client:
            return manifest_digest(client, ref.reference, ", ".join(MANIFEST_TYPES))
    except ImageError as exc:
        _LOG.debug("could not read what %s names before moving it: %s", shown(tag), exc.message)
        return None


def unreadable(tag: str, exc: ImageError) -> ImageError:
    """The error for a tag whose current digest could not be read before the bake (the in-registry
    bake reads it once, with the bytes its undo needs)."""
    return ImageError(
        f"--revoke-superseded: cannot read what {shown(tag)} names now: {exc.message}",
        hint=exc.hint or "drop --revoke-superseded, or fix the registry access",
    )


class Revocation(Record, frozen=False):
    """What `revoke_superseded` did; the command prints it (`commands._common.print_revocation`)."""

    revoked: list[dict[str, str]] = field(default_factory=list)  # repository, digest
    kept: list[dict[str, str]] = field(default_factory=list)  # repository, digest, why
    not_revoked: list[dict[str, str]] = field(default_factory=list)  # repository, digest, why: unfinished
    warnings: list[str] = field(default_factory=list)
    # an index deleted, its platform manifests (old values in their configs) not yet: what a stop
    # names as not revoked (rt8-2)
    pending: list[dict[str, str]] = field(default_factory=list, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        """Every superseded digest revoked or kept on purpose (a registry's refusal included)."""
        return not self.not_revoked

    def to_json(self) -> dict[str, object]:
        return {"revoked": list(self.revoked), "kept": list(self.kept), "not_revoked": list(self.not_revoked)}


def revoke_superseded(
    before: Mapping[str, str | None],
    pushed: Mapping[str, str],
    *,
    on_line: Callable[[str], None],
    result: Revocation | None = None,
    meanwhile: Mapping[str, str | None] | None = None,
) -> Revocation:
    """Delete, per repository, each digest a tag named before and no tag names now.  `meanwhile`:
    what each tag named just before this bake moved it (`named_now`), superseded too.  `result`,
    when given, is filled as it goes (so a caller stopped midway knows what was done)."""
    result = result if result is not None else Revocation()
    repositories: dict[tuple[str, str], tuple[ImageRef, set[str], set[str]]] = {}
    for tag, old in before.items():
        ref = push_target(tag)
        _, olds, news = repositories.setdefault((ref.host, ref.repository), (ref, set(), set()))
        if tag in pushed:
            news.add(pushed[tag])
        also = (meanwhile or {}).get(tag)
        olds.update(d for d in (old, also) if d is not None)
    for ref, olds, news in repositories.values():
        superseded = sorted(olds - news)
        if not superseded:
            continue
        on_line(f"revoking {len(superseded)} superseded image(s) in {ref.host}/{ref.repository}")
        try:
            _revoke_in(ref, superseded, result)
        except ImageError as exc:
            _unfinished(result, f"{ref.host}/{ref.repository}", superseded, exc.message)
    return result


def revoke_after_bake(
    before: Mapping[str, str | None],
    pushed: Mapping[str, str],
    *,
    on_line: Callable[[str], None],
    meanwhile: Mapping[str, str | None] | None = None,
) -> tuple[Revocation, bool]:
    """`revoke_superseded` once a bake completed (every tag moved, stop signals no longer held), on
    either road (`image.bake`, `image.inregistry`); and whether a stop ended it.  A stop during it
    ends it there: the bake stands, and each superseded digest not yet dealt with is `not_revoked`
    (why: stopped) and named in a warning."""
    revocation = Revocation()
    try:
        revoke_superseded(before, pushed, on_line=on_line, result=revocation, meanwhile=meanwhile)
    except KeyboardInterrupt:
        _stopped(revocation, before, pushed, meanwhile or {})
        return revocation, True
    return revocation, False


def _stopped(
    result: Revocation,
    before: Mapping[str, str | None],
    pushed: Mapping[str, str],
    meanwhile: Mapping[str, str | None],
) -> None:
    """A stop ended the revocation: each superseded digest not revoked, kept or named yet is
    `not_revoked`, and one warning names them all."""
    dealt = result.revoked + result.kept + result.not_revoked
    done = {(item["repository"], item["digest"]) for item in dealt}
    remaining = [item for item in superseded(before, pushed, meanwhile) if item not in done]
    remaining += [(item["repository"], item["digest"]) for item in result.pending]  # an index's
    result.pending.clear()
    for where, digest in remaining:
        result.not_revoked.append({"repository": where, "digest": digest, "why": STOPPED})
    named = ", ".join(f"{where}@{digest}" for where, digest in remaining)
    held = f": {named} may still be in the registry, holding the old values" if remaining else ""
    result.warnings.append(
        f"stopped during --revoke-superseded: the bake completed (every tag moved), the revocation "
        f"did not{held}; delete through the registry's API (`DELETE /v2/<repository>/manifests/<digest>`)"
    )


def superseded(
    before: Mapping[str, str | None], pushed: Mapping[str, str], meanwhile: Mapping[str, str | None]
) -> list[tuple[str, str]]:
    """Each (`host/repository`, digest) a tag named before (or just before it moved) that no tag of
    its repository names now: what `revoke_superseded` would deal with (before it reads the tags)."""
    news: dict[str, set[str]] = {}  # repository -> the digests its tags name now
    for tag, new in pushed.items():
        ref = push_target(tag)
        news.setdefault(f"{ref.host}/{ref.repository}", set()).add(new)
    found: dict[tuple[str, str], None] = {}
    for tag, first in before.items():
        ref = push_target(tag)
        where = f"{ref.host}/{ref.repository}"
        for digest in (first, meanwhile.get(tag)):
            if digest is not None and digest not in news.get(where, set()):
                found[(where, digest)] = None
    return list(found)


STOPPED = "stopped before it was revoked"


def _unfinished(result: Revocation, where: str, superseded: Sequence[str], why: str) -> None:
    """Each superseded digest not yet dealt with is `not_revoked`, with why."""
    done = {d["digest"] for d in result.revoked + result.kept + result.not_revoked}
    for digest in superseded:
        if digest not in done:
            result.not_revoked.append({"repository": where, "digest": digest, "why": why})
            result.warnings.append(
                f"could not revoke {where}@{digest} ({why}): the superseded image, with the old "
                "values, may still be pullable by its digest; delete it through the registry's API "
                "(`DELETE /v2/<repository>/manifests/<digest>`) or its UI"
            )


def _unread_tags(tags: Mapping[str, object]) -> str | None:
    """Why the tags cannot all be said to name what they name, or None."""
    unread = [tag for tag, item in tags.items() if isinstance(item, BakerError)]
    if not unread:
        return None
    first = tags[unread[0]]
    assert isinstance(first, BakerError)
    more = f" and {len(unread) - 1} more" if len(unread) > 1 else ""
    return (
        f"what {len(unread)} tag(s) name could not be read ({unread[0]}{more}: {first.message}), and a tag "
        "not read may still name it: nothing deleted in this repository"
    )


def _revoke_in(ref: ImageRef, superseded: Sequence[str], result: Revocation) -> None:
    where = f"{ref.host}/{ref.repository}"
    with walk.Reader(ref, push=True, delete=True) as reader:
        tags = walk.list_tags(reader)
        digests = walk.tag_digests(reader, tags)
        tops = walk.describe_all(reader, [d for d in digests.values() if isinstance(d, str)], labels=False)
        reached: dict[str, object] = {
            tag: tops[digest] if isinstance(digest, str) else digest for tag, digest in digests.items()
        }
        why = _unread_tags(reached)
        if why is not None:
            _unfinished(result, where, superseded, why)
            return
        named: dict[str, str] = {}  # digest -> a tag that reaches it
        for tag, item in reached.items():
            if isinstance(item, walk.Described):
                for digest in (item.digest, *item.children):
                    named.setdefault(digest, tag)
        for digest in superseded:
            if digest in named:
                result.kept.append(
                    {"repository": where, "digest": digest, "why": f"still tagged {named[digest]}"}
                )
                continue
            try:
                _revoke_one(reader, where, digest, named, result)
            except ImageError as exc:
                _unfinished(result, where, [digest], exc.message)


def _revoke_one(
    reader: walk.Reader, where: str, digest: str, named: Mapping[str, str], result: Revocation
) -> None:
    old = walk.describe(reader, digest)
    if old is None:
        return  # gone already (another bake revoked it)
    if not any(LABEL in p.labels for p in old.platforms):
        result.kept.append(
            {"repository": where, "digest": digest, "why": "not a baked image (no provenance label)"}
        )
        return
    refused = _delete(reader, digest)
    if refused is not None:
        result.kept.append({"repository": where, "digest": digest, "why": refused})
        result.warnings.append(
            f"the registry {reader.ref.host} did not delete {reader.ref.repository}@{digest} ({refused}); "
            "the superseded image, with the old values, is still pullable by its digest"
        )
        return
    result.revoked.append({"repository": where, "digest": digest})
    # Its platform manifests go too (their configs hold the old values, pullable by digest): one
    # not deleted makes the revocation incomplete, named (rt8-2: it was a debug line, and exit 0).
    children = [{"repository": where, "digest": child} for child in old.children if child not in named]
    result.pending[:] = children
    for item in children:
        try:
            why = _delete(reader, item["digest"])
        except ImageError as exc:
            why = exc.message
        result.pending.remove(item)
        if why is not None:
            result.not_revoked.append({**item, "why": f"a platform manifest of {digest}: {why}"})
            result.warnings.append(
                f"the registry {reader.ref.host} did not delete {reader.ref.repository}@{item['digest']}, a "
                f"platform manifest of the superseded {digest} ({why}): it is still pullable by its digest, "
                "with the old values"
            )


def _delete(reader: walk.Reader, digest: str) -> str | None:
    """None when deleted (or gone); else why not, when the registry refuses deletes (or this
    identity's); any other failure is an ImageError."""
    with reader.client() as client:
        response = client.request("DELETE", f"{client.ref.base_url}/manifests/{digest}", "application/json")
        status = response.status_code
        if status in (200, 202, 204, 404):
            response.close()
            return None
        codes = error_codes(client, response)
    if status == 405 or "UNSUPPORTED" in codes:
        return f"the registry refuses deletes: HTTP {status}{codes}"
    if status in (401, 403):
        return f"the registry denied the delete: HTTP {status}{codes}"
    raise ImageError(
        f"the registry {reader.ref.host} answered HTTP {status}{codes} when asked to delete {digest}"
    )

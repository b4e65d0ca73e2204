"""`baker find --secret NAME[#key][@VERSION] REPO ...`: which tags and digests in those repositories
were baked from that secret (that version), read from their provenance labels over the registry API,
without pulling.  The incident question: where does the leaked version live?

Every tag of each repository is read (`registry.walk`: tags with `Link` pagination, what each tag
names, then each distinct index, manifest and config once, every platform of an index, a bounded
number of requests in flight, each within its own bound); a tag matches when any platform's record
names the secret (by its Azure name, case-insensitive), the JSON key when one is given, and the
version when one is given.  A record names versions and where they came from, never a value.
"""

from __future__ import annotations

import re

from baker.errors import BadReference, BakerError, ImageError, UsageError
from baker.image.registry import walk
from baker.image.registry.refs import ImageRef, parse_ref
from baker.manifest.refs import normalize_name
from baker.provenance import LABEL, Origin, from_label
from baker.record import Record, replace

_VERSIONED = re.compile(r"^(?P<ref>.+)@(?P<version>[0-9a-fA-F]{32})$")


class Wanted(Record):
    name: str  # the Azure name
    key: str | None
    version: str | None

    def matches(self, origin: Origin) -> bool:
        """`origin` (or, for a template, one of its parts) read this secret (version)."""
        return any(self._one(part) for part in origin.parts or (origin,))

    def _one(self, origin: Origin) -> bool:
        return (
            origin.kind == "secret"
            and (origin.secret or "").lower() == self.name.lower()
            and (self.key is None or origin.key == self.key)
            and (self.version is None or (origin.version or "").lower() == self.version)
        )


def parse_wanted(text: str) -> Wanted:
    """`NAME`, `NAME#key`, either with `@VERSION` (32 hex digits) at the end."""
    match = _VERSIONED.match(text)
    ref, version = (match["ref"], match["version"].lower()) if match else (text, None)
    name, sep, key = ref.partition("#")
    try:
        azure = normalize_name(name)
    except BadReference as exc:
        raise UsageError(
            f"--secret: {exc}", hint="write NAME, NAME#key, NAME@VERSION or NAME#key@VERSION"
        ) from None
    if sep and not key:
        raise UsageError("--secret: the JSON key after # is empty", hint="write NAME#key")
    return Wanted(azure, key if sep else None, version)


class Match(Record):
    repository: str  # host/repository
    tag: str
    digest: str
    platforms: tuple[str, ...]
    env: tuple[str, ...]  # the variables baked from the secret
    versions: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "platforms": list(self.platforms),
            "env": list(self.env),
            "versions": list(self.versions),
        }


class Unread(Record):
    """A tag whose provenance could not be read: find cannot say whether it holds the secret."""

    name: str  # host/repository:tag
    why: str


class Found(Record):
    matches: tuple[Match, ...]
    scanned: int  # tags read
    unread: tuple[Unread, ...]  # tags whose record could not be read
    errors: tuple[ImageError, ...]  # repositories that could not be listed

    @property
    def unreadable(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.unread)

    @property
    def complete(self) -> bool:
        """Every repository listed and every tag's record read: only then is "not found" an answer."""
        return not self.unread and not self.errors


def repository_of(text: str) -> ImageRef:
    """A repository (`host/repo`), or one tag of it (`host/repo:tag`)."""
    ref = parse_ref(text)
    if ref.reference.startswith("sha256:"):
        raise UsageError(f"{text}: name a repository or a tag, not a digest")
    return ref


def find(wanted: Wanted, repositories: list[str]) -> Found:
    """Every tag of each repository (or the one tag named) read: what each names (one request a
    tag), then each distinct index, manifest and config once (`registry.walk`)."""
    refs = [(text, repository_of(text)) for text in repositories]  # all usage, before any request
    matches: list[Match] = []
    unread: list[Unread] = []
    errors: list[ImageError] = []
    scanned = 0
    for text, ref in refs:
        where = f"{ref.host}/{ref.repository}"
        try:
            with walk.Reader(ref) as reader:
                one_tag = ":" in text.rpartition("/")[2]
                tags = [ref.reference] if one_tag else walk.list_tags(reader)
                digests = walk.tag_digests(reader, tags)
                described = walk.describe_all(reader, [d for d in digests.values() if isinstance(d, str)])
        except ImageError as exc:
            errors.append(exc)
            continue
        judged: dict[str, tuple[Match | None, bool]] = {}
        for tag in tags:
            scanned += 1
            digest = digests[tag]
            item = described.get(digest) if isinstance(digest, str) else digest
            if item is None:  # gone since the listing: nothing to pull; a tag named alone is said
                if one_tag:
                    unread.append(Unread(f"{where}:{tag}", f"the registry {ref.host} has no such tag"))
                continue
            if isinstance(item, BakerError):
                unread.append(Unread(f"{where}:{tag}", item.message))
                continue
            if item.digest not in judged:  # each distinct image judged once, whatever tags name it
                judged[item.digest] = (
                    _match(wanted, where, "", item),
                    any(_record_broken(p.labels) for p in item.platforms),
                )
            hit, broken = judged[item.digest]
            if hit is not None:
                matches.append(replace(hit, tag=tag))
            elif broken:
                unread.append(Unread(f"{where}:{tag}", "its provenance label is not a record baker reads"))
    return Found(tuple(matches), scanned, tuple(unread), tuple(errors))


def _origins(labels: dict[str, str]) -> tuple[Origin, ...]:
    text = labels.get(LABEL)
    if text is None:
        return ()
    try:
        return from_label(text)
    except ImageError:
        return ()


def _record_broken(labels: dict[str, str]) -> bool:
    return LABEL in labels and not _origins(labels)


def _match(wanted: Wanted, where: str, tag: str, item: walk.Described) -> Match | None:
    platforms: list[str] = []
    env: dict[str, None] = {}
    versions: dict[str, None] = {}
    for platform in item.platforms:
        hits = [o for o in _origins(platform.labels) if wanted.matches(o)]
        if hits:
            platforms.append(platform.name or "single")
            env.update(dict.fromkeys(o.env for o in hits))
            versions.update(dict.fromkeys(o.version or "?" for o in hits))
    if not platforms:
        return None
    return Match(where, tag, item.digest, tuple(platforms), tuple(env), tuple(versions))

"""Reading a repository over the Registry HTTP API v2 without pulling: its tags, and what a tag or a
digest is (its digest, every platform's manifest and config labels).  `baker.image.find` and
`revoke` use it; it rides on `client.RegistryClient` (credentials, deadlines, capped reads) and
`read.read_config`, as `check` does.

A scan (`Reader`) is many requests, each within its own bound (`REQUEST_DEADLINE`), never one bound
for the whole repository; `WORKERS` are in flight at once (`baker.fanout`), each on its own client
whose connections stay open, all on the first sign-in.  A registry that lets `WORKERS` requests run
out their bound is taken as stopped: what is left is not asked for, and is named as not read.

- Tags: `GET /v2/REPO/tags/list?n=100`, following `Link: <...>; rel="next"` on the registry's own
  origin only, at most `PAGES_MAX` pages and `TAGS_TOTAL_MAX` tags.  A registry that refuses the
  listing is an `ImageError` naming it, and so is one whose list cannot be trusted whole: a next
  page already read (a loop: refused at once), a name outside the tag grammar (`imageref.TAG`: at
  most 128 characters, and never a path such as `../other/manifests/x`), a `Link` header over
  `LINK_MAX` (read in one linear pass, never by a backtracking pattern).
- What each tag names: `GET /v2/REPO/manifests/TAG`, the digest of the bytes it returns (what a
  pull reads; `push.manifest_digest`), never a HEAD's `Docker-Content-Digest`: a cache in front
  of the registry may serve that stale, and every answer of a scan ("not baked", "gone", "no tag
  names it any more, delete it") rests on it.
- Each distinct digest is then read once, however many tags name it: the manifest or index by
  digest (checked against it), an index's platform manifests (attestation entries, platform
  `unknown/unknown`, are children but have no image config), each distinct config blob.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from baker import fanout
from baker.errors import BakerError, ImageError
from baker.image.registry.client import MANIFEST_MAX, MIB, RegistryClient, error_codes, parse_json
from baker.image.registry.push import SHA256_DIGEST, manifest_digest
from baker.image.registry.read import LIST_TYPES, MANIFEST_TYPES, read_config
from baker.image.registry.refs import ImageRef
from baker.image.registry.transport import checked, origin, resolve
from baker.imageref import TAG
from baker.record import Record

T = TypeVar("T")
R = TypeVar("R")

PAGE = 100
PAGES_MAX = 1000  # 100,000 tags: a registry that never ends its list is cut here
TAGS_MAX = 4 * MIB  # one page of a tag list
TAGS_TOTAL_MAX = PAGES_MAX * PAGE  # tags held (each at most 128 characters: 13 MB at most)
LINK_MAX = 64 * 1024  # characters of a page's `Link` header: what http.client reads of one line
WORKERS = 8  # requests in flight against one registry
REQUEST_DEADLINE = 120.0  # seconds, for each request of a scan (its answer read whole)
_ACCEPT = ", ".join(MANIFEST_TYPES)
_LIST_HINT = "check the registry (or its proxy); `baker find` reads a tag named alone (REPO:TAG)"


class Platform(Record):
    name: str  # linux/amd64
    digest: str  # the platform manifest's
    config: str  # the config blob's digest
    labels: dict[str, str]


class Described(Record):
    """A manifest (or index) as the registry serves it."""

    digest: str
    media_type: str
    children: tuple[str, ...]  # an index's entries, attestations included
    platforms: tuple[Platform, ...]  # image configs only


class Reader:
    """One repository, read by many requests: use it as a context manager.  `client()` lends a
    client for one request (its answer read whole inside the block), within `REQUEST_DEADLINE`."""

    def __init__(self, ref: ImageRef, *, push: bool = False, delete: bool = False) -> None:
        self.ref = ref
        self._push, self._delete = push, delete
        self._lock = threading.Lock()
        self._idle: list[RegistryClient] = []
        self._made: list[RegistryClient] = []
        self._stalled = 0  # requests that ran out their bound

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._made:
            client.__exit__(None, None, None)

    @contextlib.contextmanager
    def client(self) -> Iterator[RegistryClient]:
        with self._lock:
            if self._stalled >= WORKERS:
                raise ImageError(
                    f"the registry {self.ref.host} stopped answering ({self._stalled} requests did not "
                    f"answer within {REQUEST_DEADLINE:g} s): not asked",
                    hint="check that the registry is up and not overloaded; try again later",
                )
            client = self._idle.pop() if self._idle else None
            signed_in = next((c.auth_header for c in self._made if c.auth_header), None)
        if client is None:
            client = RegistryClient(self.ref, push=self._push, delete=self._delete, deadline=REQUEST_DEADLINE)
            with self._lock:
                self._made.append(client)
        else:
            client.renew()
        if client.auth_header is None:
            client.auth_header = signed_in  # one sign-in for the whole scan
        try:
            yield client
        finally:
            client.deadline.cancel()
            with self._lock:
                if client.deadline.passed:
                    self._stalled += 1
                self._idle.append(client)


def list_tags(reader: Reader) -> list[str]:
    """Every tag of the reader's repository, sorted."""
    ref = reader.ref
    url = checked(f"{ref.base_url}/tags/list?n={PAGE}", ref.host).text  # as a next link is read
    read: set[str] = set()
    tags: set[str] = set()
    for _ in range(PAGES_MAX):
        read.add(url)
        with reader.client() as client:
            response = client.get(url, "application/json")
            status = response.status_code
            if status in (401, 403):
                response.close()
                raise client.denied(status, why=" (it refused to list the repository's tags)")
            if status != 200:
                codes = error_codes(client, response)
                what = "has no repository" if status == 404 else "refused to list the tags of"
                raise ImageError(
                    f"the registry {ref.host} {what} {ref.repository} (HTTP {status}{codes})",
                    hint="check the repository's name; "
                    "some registries list tags only with a catalog permission",
                )
            link = response.headers.get("Link", "")
            body = client.read_json(response, "tag list", TAGS_MAX)
        page = body.get("tags") or []
        if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
            raise ImageError(f"the registry {ref.host} sent a malformed tag list for {ref.repository}")
        _check_names(ref, page)
        tags.update(page)
        if len(tags) > TAGS_TOTAL_MAX:
            break
        target = next_page(link, ref.host)
        if target is None:
            return sorted(tags)
        following = resolve(ref.api_root, target, ref.host).text  # read once, as connected to
        if origin(following) != origin(ref.api_root):
            raise ImageError(f"the registry {ref.host} sent its next tag page to another origin")
        if following in read:
            raise ImageError(
                f"the registry {ref.host} named as the next tag page of {ref.repository} a page it had "
                "already sent: its list loops and never ends",
                hint=_LIST_HINT,
            )
        url = following
    raise ImageError(f"the registry {ref.host} lists more than {TAGS_TOTAL_MAX} tags in {ref.repository}")


def _check_names(ref: ImageRef, page: list[str]) -> None:
    """Every name a tag list gives is a tag (`imageref.TAG`); one that is not is never held nor
    sent back as part of a path, and the list is not trusted whole (a tag it hides may matter)."""
    for name in page:
        if not TAG.fullmatch(name):
            raise ImageError(
                f"the registry {ref.host} listed in {ref.repository} a name of {len(name)} characters "
                "that is not a tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}): baker does not read its tag list",
                hint=_LIST_HINT,
            )


def next_page(link: str, host: str) -> str | None:
    """The target of a `Link` header's `rel="next"` link (RFC 8288), None when it has none.  One
    pass, each character looked at a bounded number of times (a pattern that backtracks over every
    `<` is quadratic); a header over `LINK_MAX` characters is refused."""
    if len(link) > LINK_MAX:
        raise ImageError(
            f"the registry {host} sent a tag page with a Link header of {len(link)} characters "
            f"(more than {LINK_MAX}); baker does not read it"
        )
    at = 0
    while (start := link.find("<", at)) >= 0:
        end = link.find(">", start + 1)
        if end < 0:
            return None
        following = link.find("<", end + 1)  # the next link's start: this one's parameters end there
        stop = len(link) if following < 0 else following
        if _rel_next(link[end + 1 : stop]):
            return link[start + 1 : end]
        at = stop
    return None


def _rel_next(params: str) -> bool:
    """`; rel="next"` (or `rel=next`, or a list of relations naming `next`) among a link's parameters."""
    for param in params.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "rel":
            return "next" in value.strip().rstrip(",").strip().strip('"').lower().split()
    return False


def tag_digests(reader: Reader, tags: Sequence[str]) -> dict[str, str | BakerError | None]:
    """The digest each tag names now (None: no such tag any more), one request per tag."""
    return dict(zip(tags, each(tags, lambda tag: _tag_digest(reader, tag)), strict=True))


def _tag_digest(reader: Reader, tag: str) -> str | None:
    with reader.client() as client:
        return manifest_digest(client, tag, _ACCEPT)


class _Node(Record):
    """One manifest or index, as read by digest."""

    media_type: str
    entries: tuple[tuple[str, str], ...]  # an index's image entries: (digest, platform name)
    children: tuple[str, ...]  # an index's entries, attestations included
    config: str | None  # a manifest's config blob


def describe_all(
    reader: Reader, digests: Iterable[str], *, labels: bool = True
) -> dict[str, Described | BakerError | None]:
    """What each digest is (None: the registry has no such manifest), each distinct manifest and
    config read once.  Without `labels`, an index's platforms are not read (its children are)."""
    tops = sorted(set(digests))
    nodes = _read_each(reader, tops, _node)
    wanted = (
        [d for node in nodes.values() if isinstance(node, _Node) for d, _ in node.entries] if labels else []
    )
    nodes.update(_read_each(reader, [d for d in dict.fromkeys(wanted) if d not in nodes], _node))
    configs: dict[str, dict[str, str] | BakerError] = {}
    if labels:
        blobs = [
            n.config for d, n in nodes.items() if isinstance(n, _Node) and n.config is not None and n.config
        ]
        configs = _read_each(reader, list(dict.fromkeys(blobs)), _labels)
    return {digest: _described(digest, nodes, configs, labels) for digest in tops}


def describe(reader: Reader, digest: str) -> Described | None:
    """What one digest is, every platform's labels read; None when the registry has no such manifest."""
    item = describe_all(reader, [digest])[digest]
    if isinstance(item, BakerError):
        raise item
    return item


def _read_each(
    reader: Reader, items: Sequence[str], read: Callable[[Reader, str], T]
) -> dict[str, T | BakerError]:
    return dict(zip(items, each(items, lambda item: read(reader, item)), strict=True))


def _described(
    digest: str,
    nodes: dict[str, _Node | BakerError | None],
    configs: dict[str, dict[str, str] | BakerError],
    labels: bool,
) -> Described | BakerError | None:
    node = nodes[digest]
    if node is None or isinstance(node, BakerError):
        return node
    if not labels:
        return Described(digest, node.media_type, node.children, ())
    platforms: list[Platform] = []
    for child, name in node.entries if node.config is None else ((digest, ""),):
        found = nodes.get(child)
        if found is None:
            continue  # an index entry the registry does not have: nothing of it can be pulled
        if isinstance(found, BakerError):
            return found
        if found.config is None:
            return ImageError(f"the registry's manifest {child} names no config blob")
        config = configs[found.config]
        if isinstance(config, BakerError):
            return config
        platforms.append(Platform(name, child, found.config, config))
    return Described(digest, node.media_type, node.children, tuple(platforms))


def _node(reader: Reader, digest: str) -> _Node | None:
    if not SHA256_DIGEST.fullmatch(digest):
        raise ImageError(f"the registry {reader.ref.host} named a manifest by a digest baker does not read")
    with reader.client() as client:
        raw, media_type = _manifest(client, digest)
    if raw is None:
        return None
    body = parse_json(raw, f"manifest from {reader.ref.host}")
    media_type = media_type or str(body.get("mediaType") or "")
    if media_type in LIST_TYPES or "manifests" in body:
        listed = [
            m for m in body.get("manifests") or [] if isinstance(m, dict) and isinstance(m.get("digest"), str)
        ]
        entries: list[tuple[str, str]] = []
        for entry in listed:
            given = entry.get("platform")
            plat: dict[str, Any] = given if isinstance(given, dict) else {}
            if plat.get("os") == "unknown":  # an attestation: no image config
                continue
            name = "/".join(str(plat[k]) for k in ("os", "architecture", "variant") if plat.get(k))
            entries.append((str(entry["digest"]), name))
        return _Node(media_type, tuple(entries), tuple(str(m["digest"]) for m in listed), None)
    config = body.get("config")
    given = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(given, str) or not SHA256_DIGEST.fullmatch(given):
        raise ImageError(f"the registry's manifest {digest} names no config blob baker reads")
    return _Node(media_type, (), (), given)


def _labels(reader: Reader, digest: str) -> dict[str, str]:
    with reader.client() as client:
        return read_config(client, client.ref, digest).labels


def _manifest(client: RegistryClient, digest: str) -> tuple[bytes | None, str]:
    response = client.get(f"{client.ref.base_url}/manifests/{digest}", _ACCEPT)
    status = response.status_code
    if status == 404:
        response.close()
        return None, ""
    if status in (401, 403):
        response.close()
        raise client.denied(status)
    if status != 200:
        raise ImageError(
            f"the registry {client.ref.host} answered HTTP {status}{error_codes(client, response)}"
        )
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    raw = client.read(response, "manifest", MANIFEST_MAX)
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        raise ImageError(f"the registry {client.ref.host} sent a manifest that does not match {digest}")
    return raw, media_type


def each(items: Sequence[T], work: Callable[[T], R], *, workers: int = WORKERS) -> list[R | BakerError]:
    """`work` over `items`, at most `workers` at once, in order; a BakerError is that item's answer."""
    if not items:
        return []
    return fanout.each(items, work, workers=workers, keep=BakerError, name="baker-registry")

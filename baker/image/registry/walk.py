"""Reading a repository over the Registry HTTP API v2 without pulling: its tags, and what a tag or a
digest is (its digest, every platform's manifest and config labels).  `baker.image.find` and
`revoke` use it; it rides on `client.RegistryClient` (credentials, deadlines, capped reads) and
`read.read_config`, as `check` does.

- Tags: `GET /v2/REPO/tags/list?n=100`, following `Link: <...>; rel="next"` on the registry's own
  origin only, at most `PAGES_MAX` pages.  A registry that refuses the listing is an `ImageError`
  naming it.
- A reference: `GET /v2/REPO/manifests/REF` (every manifest type); an index's entries are each read
  (attestation entries, platform `unknown/unknown`, are children but have no image config).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from baker import fanout
from baker.errors import BakerError, ImageError
from baker.image.registry.client import MANIFEST_MAX, MIB, RegistryClient, error_codes, parse_json
from baker.image.registry.read import LIST_TYPES, MANIFEST_TYPES, read_config
from baker.image.registry.transport import origin, resolve

T = TypeVar("T")
R = TypeVar("R")

PAGE = 100
PAGES_MAX = 1000  # 100,000 tags: a registry that never ends its list is cut here
TAGS_MAX = 4 * MIB  # one page of a tag list
WORKERS = 8  # requests in flight against one registry
_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)


@dataclass(frozen=True)
class Platform:
    name: str  # linux/amd64
    digest: str  # the platform manifest's
    config: str  # the config blob's digest
    labels: dict[str, str]


@dataclass(frozen=True)
class Described:
    """A manifest (or index) as the registry serves it."""

    digest: str
    media_type: str
    children: tuple[str, ...]  # an index's entries, attestations included
    platforms: tuple[Platform, ...]  # image configs only


def list_tags(client: RegistryClient) -> list[str]:
    """Every tag of the client's repository, sorted."""
    ref = client.ref
    url = f"{ref.base_url}/tags/list?n={PAGE}"
    tags: set[str] = set()
    for _ in range(PAGES_MAX):
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
                hint="check the repository's name; some registries list tags only with a catalog permission",
            )
        link = response.headers.get("Link", "")
        body = client.read_json(response, "tag list", TAGS_MAX)
        page = body.get("tags") or []
        if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
            raise ImageError(f"the registry {ref.host} sent a malformed tag list for {ref.repository}")
        tags.update(page)
        match = _NEXT.search(link)
        if not match:
            return sorted(tags)
        following = resolve(ref.api_root, match.group(1), ref.host).text  # read once, as connected to
        if origin(following) != origin(ref.api_root):
            raise ImageError(f"the registry {ref.host} sent its next tag page to another origin")
        url = following
    raise ImageError(f"the registry {ref.host} lists more than {PAGES_MAX * PAGE} tags in {ref.repository}")


def describe(client: RegistryClient, reference: str) -> Described | None:
    """What `reference` (a tag or a digest) is; None when the registry has no such manifest."""
    raw, media_type, digest = _manifest(client, reference)
    if raw is None:
        return None
    body = _json(raw, client)
    if media_type in LIST_TYPES or "manifests" in body:
        entries = [
            m for m in body.get("manifests") or [] if isinstance(m, dict) and isinstance(m.get("digest"), str)
        ]
        platforms: list[Platform] = []
        for entry in entries:
            given = entry.get("platform")
            plat: dict[str, Any] = given if isinstance(given, dict) else {}
            if plat.get("os") == "unknown":  # an attestation: no image config
                continue
            name = "/".join(str(plat[k]) for k in ("os", "architecture", "variant") if plat.get(k))
            child_raw, _, _ = _manifest(client, str(entry["digest"]))
            if child_raw is None:
                continue
            platforms.append(_platform(client, _json(child_raw, client), str(entry["digest"]), name))
        children = tuple(str(m["digest"]) for m in entries)
        return Described(digest, media_type, children, tuple(platforms))
    return Described(digest, media_type, (), (_platform(client, body, digest, ""),))


def _manifest(client: RegistryClient, reference: str) -> tuple[bytes | None, str, str]:
    response = client.get(f"{client.ref.base_url}/manifests/{reference}", ", ".join(MANIFEST_TYPES))
    status = response.status_code
    if status == 404:
        response.close()
        return None, "", ""
    if status in (401, 403):
        response.close()
        raise client.denied(status)
    if status != 200:
        raise ImageError(
            f"the registry {client.ref.host} answered HTTP {status}{error_codes(client, response)}"
        )
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    raw = client.read(response, "manifest", MANIFEST_MAX)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    if reference.startswith("sha256:") and reference != digest:
        raise ImageError(f"the registry {client.ref.host} sent a manifest that does not match {reference}")
    return raw, media_type or str(_json(raw, client).get("mediaType") or ""), digest


def _json(raw: bytes, client: RegistryClient) -> dict[str, Any]:
    return parse_json(raw, f"manifest from {client.ref.host}")


def _platform(client: RegistryClient, manifest: dict[str, Any], digest: str, name: str) -> Platform:
    config = manifest.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
        raise ImageError(f"the registry's manifest {digest} names no config blob")
    remote = read_config(client, client.ref, str(config["digest"]))
    return Platform(name, digest, remote.digest, remote.labels)


def each(items: Sequence[T], work: Callable[[T], R], *, workers: int = WORKERS) -> list[R | BakerError]:
    """`work` over `items`, at most `workers` at once, in order; a BakerError is that item's answer."""
    return fanout.each(items, work, workers=workers, keep=BakerError, name="baker-registry")

"""The one image-reference grammar: distribution/reference's, as the Docker engine applies it.

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path              (255 characters at most)
    domain    := host [ ":" port ]                host: DNS labels joined by ".", or [IPv6]
    path      := component ( "/" component )*     component: [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )*
    tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
    digest    := algorithm ":" hex{32,}

A first part is the registry's domain only when it could not be a path component: it holds a `.`
or a `:`, is `localhost`, or has an upper-case letter (Docker's rule); `team/app` is on Docker Hub.
Anything else (user info such as `127.0.0.1:5000@registry.attacker.example/app`, a scheme, spaces,
control characters) is not a reference, and is refused before anything is asked of an engine or a
registry.  Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from baker.errors import RenderError, UsageError
from baker.record import Record

NAME_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_PATH = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

# re.ASCII: Go's \w, which the grammar is written in, is [0-9A-Za-z_].
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?", re.ASCII
)
_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_PATH_RE = re.compile(_PATH, re.ASCII)
IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
TAG = re.compile(_TAG, re.ASCII)  # a tag alone (fullmatch): what a registry's tag list may name


class Reference(Record):
    domain: str  # as written, "" when none is (Docker Hub)
    path: str
    tag: str = ""  # "" when none is written
    digest: str = ""  # "" when none is written

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def _looks_like_domain(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost" or part.lower() != part


def _split(text: str) -> Reference | None:
    match = _REFERENCE.fullmatch(text)
    if match is None or len(match["name"]) > NAME_MAX:
        return None
    first, sep, rest = match["name"].partition("/")
    if sep and _looks_like_domain(first):
        if not _DOMAIN_RE.fullmatch(first) or not _PATH_RE.fullmatch(rest):
            return None
        domain, path = first, rest
    else:
        domain, path = "", match["name"]
        if not _PATH_RE.fullmatch(path):  # e.g. an upper-case first part with nothing after it
            return None
    return Reference(domain, path, match["tag"] or "", match["digest"] or "")


def is_valid(text: str) -> bool:
    return _split(text) is not None


def is_tag_name(text: str) -> bool:
    """Whether `text` can name a tag: a reference with no digest."""
    ref = _split(text)
    return ref is not None and not ref.digest


def parse(text: str) -> Reference:
    """`text` split by the grammar; `UsageError` (exit 2) when it is not an image reference."""
    ref = _split(text)
    if ref is None:
        raise UsageError(
            f"{shown(text)} is not a valid image reference",
            hint="an image reference looks like registry.example.com/team/app:1.4.2 "
            "([host[:port]/]path[:tag][@digest], lower-case path)",
        )
    return ref


# Docker Hub: the registry a reference with no registry host means (Docker's default), the names it
# goes by, and the host its API answers on.  The only place baker spells them.
DOCKER_HUB_NAME = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB = frozenset({DOCKER_HUB_NAME, "index.docker.io", DOCKER_HUB_API})


def registry_name(host: str) -> str:
    """A registry host as Docker names it: Docker Hub's aliases as `DOCKER_HUB_NAME`, any other as is."""
    return DOCKER_HUB_NAME if host in DOCKER_HUB else host


def api_host(host: str) -> str:
    """The host a registry's API answers on: Docker Hub's is `DOCKER_HUB_API`, any other its own."""
    return DOCKER_HUB_API if host in DOCKER_HUB else host


def pushes_to(text: str) -> str:
    """The registry a push of the image name `text` goes to: the domain written, else Docker Hub's
    name (docker-py's `resolve_repository_name`).  Anything that is not a reference goes to Docker Hub
    too, as Docker would read it; it is refused when the reference is parsed."""
    ref = _split(text)
    return ref.domain if ref is not None and ref.domain else DOCKER_HUB_NAME


def with_registry(text: str) -> str:
    """The image name `text` with Docker's default registry written out (`app:1` ->
    `docker.io/app:1`); a name that already starts with a registry host, as is."""
    ref = _split(text)
    return text if ref is not None and ref.domain else f"{DOCKER_HUB_NAME}/{text}"


def repository_and_tag(text: str) -> tuple[str, str]:
    """The engine's split of a reference for its tag, pull and push calls (docker-py's
    `parse_repository_tag`): the repository, and the digest, else the tag ("" when neither is written:
    the engine's `latest`).  With both, the tag stays on the repository, as docker-py leaves it."""
    ref = parse(text)
    if ref.digest:
        return ref.name + (f":{ref.tag}" if ref.tag else ""), ref.digest
    return ref.name, ref.tag


def registry_host(text: str) -> str:
    """The registry a reference (or a repository) names: its domain, "" for Docker Hub."""
    domain = parse(text).domain
    return "" if domain in DOCKER_HUB else domain


def repository_key(text: str) -> tuple[str, str] | None:
    """The registry and repository a reference names, as the engine and the registry mean them
    (Docker Hub's names all one host, its one-part paths under `library/`); None for an image id or
    a text that is no reference."""
    if IMAGE_ID.fullmatch(text):
        return None
    ref = _split(text)
    if ref is None:
        return None
    host = ref.domain if ref.domain and ref.domain not in DOCKER_HUB else DOCKER_HUB_NAME
    path = f"library/{ref.path}" if host == DOCKER_HUB_NAME and "/" not in ref.path else ref.path
    return host, path


def same_repository(one: str, other: str) -> bool:
    """Whether two references name the same repository of the same registry (tags and digests
    aside); an image id is the same only as itself."""
    if IMAGE_ID.fullmatch(one) or IMAGE_ID.fullmatch(other):
        return one == other
    key = repository_key(one)
    return key is not None and key == repository_key(other)


def shown(text: str) -> str:
    """A reference quoted for a message: references are not secret, but keep them on one line."""
    return json.dumps(text[:200], ensure_ascii=True)


# The manifest's image names, checked before anything is rendered or asked of an engine or a registry
# (a RenderError, exit 1, as they always were).


def validate_base(base: str) -> str:
    """`base` as a FROM operand: an image reference or an image id, nothing the parser expands."""
    if IMAGE_ID.fullmatch(base) or is_valid(base):
        return base
    raise RenderError(
        f"the base image {_as_written(base)} is not a valid image reference",
        hint="image.from takes a reference like registry.example.com/app:1.4.2",
    )


def validate_tag(tag: str) -> str:
    """`tag` as a name to tag an image with: `[host[:port]/]path[:tag]`, lower-case path, no digest."""
    if is_tag_name(tag):
        return tag
    raise RenderError(
        f"the tag {_as_written(tag)} is not a valid image name",
        hint="a tag looks like registry.example.com/app:1.4.2-baked (lower-case repository path)",
    )


def validate_names(tags: Iterable[str], base: str | None) -> None:
    """Each tag (`validate_tag`), then the base when there is one (`validate_base`): what both bake
    roads check of their names before anything is asked of a registry (`image.bake.check_tags`,
    `image.inregistry.check_targets`)."""
    for tag in tags:
        validate_tag(tag)
    if base is not None:
        validate_base(base)


def _as_written(text: str) -> str:
    """As `shown`, but non-ASCII kept as written (what these two messages have always printed)."""
    return json.dumps(text[:200], ensure_ascii=False)

"""Image references as the registry API needs them: the registry host, its API root (plain http for
loopback registries, as the Docker engine treats them as insecure by default; https for every other)
and the repository (Docker Hub's `library/` added).  Built on `baker.imageref`, the one grammar."""

from __future__ import annotations

from baker import imageref
from baker.errors import ImageError, UsageError
from baker.loopback import is_loopback
from baker.record import Record


class ImageRef(Record):
    host: str  # as written: registry.example.com, localhost:5000
    repository: str
    reference: str  # tag or digest

    @property
    def api_host(self) -> str:
        return imageref.api_host(self.host)

    @property
    def api_root(self) -> str:
        """The registry's `/v2/` endpoint, the API version check every client starts with."""
        return f"{'http' if is_loopback(self.host) else 'https'}://{self.api_host}/v2/"

    @property
    def base_url(self) -> str:
        return f"{self.api_root}{self.repository}"


def names_registry(ref: str) -> bool:
    """Whether `ref` is an image reference that starts with a registry host (`host.domain/`,
    `host:port/`, `localhost/`); False for anything that is not a reference at all."""
    try:
        return imageref.parse(ref).domain != ""
    except UsageError:
        return False


def parse_ref(ref: str) -> ImageRef:
    """`ref` as the registry API needs it; `UsageError` when it is not an image reference (by
    `baker.imageref`, the one grammar), `ImageError` when it names no registry host."""
    parsed = imageref.parse(ref)
    if not parsed.domain:
        raise ImageError(f"{imageref.shown(ref)} names no registry host")
    repository = parsed.path
    if parsed.domain in imageref.DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(parsed.domain, repository, parsed.digest or parsed.tag or "latest")

"""Writing to a registry (distribution spec, "push"): blobs by digest (present, mounted from another
repository, uploaded from bytes, or streamed from another registry's answer) and manifests by digest
or tag.  Built on `client.RegistryClient` (credentials, the token dance, origins, deadlines).

Nothing here logs, raises or returns a body baker sent: a config blob holds values.  A registry's
error answer is reduced to its distribution error codes (`DENIED`, `BLOB_UNKNOWN`...), never quoted.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import requests
import urllib3.exceptions

from baker.errors import ImageError
from baker.image.oci import Blob, media_type_of
from baker.image.registry.client import MANIFEST_MAX, MIB, RegistryClient, error_codes, parse_json
from baker.image.registry.transport import resolve

_CHUNK = 1 * MIB  # what a streamed copy holds in memory at once
SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _refused(client: RegistryClient, response: requests.Response, what: str) -> ImageError:
    status = response.status_code
    codes = error_codes(client, response)
    if status in (401, 403):
        return client.denied(status, why=f" (it refused to {what}{codes})")
    if status == 405:
        return ImageError(
            f"the registry {client.ref.host} refused to {what} in {client.ref.repository} "
            f"(HTTP 405{codes}: read-only, or pushing is not allowed there)",
            hint="check that the registry takes pushes (not a read-only mirror or maintenance mode)",
        )
    return ImageError(f"the registry {client.ref.host} answered HTTP {status}{codes} when asked to {what}")


def blob_exists(client: RegistryClient, digest: str) -> bool:
    response = client.request("HEAD", f"{client.ref.base_url}/blobs/{digest}", "*/*")
    if response.status_code in (200, 404):
        response.close()
        return response.status_code == 200
    raise _refused(client, response, f"say whether it holds the blob {digest}")


def start_upload(
    client: RegistryClient, *, mount: str | None = None, source: str | None = None
) -> str | None:
    """Start an upload (`POST .../blobs/uploads/`), or mount `mount` from the repository `source` of
    the same registry (`?mount=&from=`): None when mounted (201), else the upload's URL (202: a
    registry that does not mount answers with an upload to make instead)."""
    url = f"{client.ref.base_url}/blobs/uploads/"
    if mount is not None and source is not None:
        url += "?" + urllib.parse.urlencode({"mount": mount, "from": source})
    response = client.request("POST", url, "application/json")
    if response.status_code not in (201, 202) or (response.status_code == 201 and mount is None):
        raise _refused(client, response, "start an upload")
    response.close()
    if response.status_code == 201:
        return None
    location = response.headers.get("Location")
    if not location:
        raise ImageError(f"the registry {client.ref.host} started an upload without saying where")
    return resolve(url, location, client.ref.host).text  # read once: what is checked is what gets the blob


def _with_digest(location: str, digest: str) -> str:
    parts = urllib.parse.urlsplit(location)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query.append(("digest", digest))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def finish_upload(client: RegistryClient, location: str, digest: str, data: Any, size: int) -> None:
    """The whole blob in one `PUT location?digest=` (a monolithic upload), bytes or a stream of
    `size` bytes; the registry checks the digest."""
    response = client.request(
        "PUT",
        _with_digest(location, digest),
        "application/json",
        data=data,
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
    )
    if response.status_code not in (201, 204):
        raise _refused(client, response, f"take the blob {digest}")
    response.close()


def upload(client: RegistryClient, blob: Blob) -> None:
    """A blob baker made (a config), sent as the bytes its digest was computed from."""
    location = start_upload(client)
    assert location is not None
    finish_upload(client, location, blob.digest, blob.data, blob.size)


class _Stream:
    """A source registry's answer as a request body: read in `_CHUNK`s as the target takes them, so
    a layer of any size goes through in bounded memory and never touches the disk.  Its length is
    the descriptor's size, so the target gets a Content-Length (not a chunked body)."""

    def __init__(self, response: requests.Response, size: int, digest: str, host: str) -> None:
        self._response = response
        self._size = size
        self._digest = digest
        self._host = host

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        try:
            for chunk in self._response.iter_content(_CHUNK):
                sent += len(chunk)
                if sent > self._size:
                    break
                yield chunk
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            sent = -1
        if sent != self._size:
            raise ImageError(f"the registry {self._host} sent the blob {self._digest} cut short or too long")


def copy_blob(
    source: RegistryClient, target: RegistryClient, location: str | None, descriptor: dict[str, Any]
) -> None:
    """Stream one blob from `source`'s repository into `target`'s (into `location`, an upload
    already started, or a new one)."""
    digest = str(descriptor["digest"])
    size = int(descriptor.get("size") or 0)
    response = source.get(f"{source.ref.base_url}/blobs/{digest}", "*/*")
    try:
        if response.status_code != 200:
            raise _refused(source, response, f"send the blob {digest}")
        if location is None:
            location = start_upload(target)
            assert location is not None
        finish_upload(target, location, digest, _Stream(response, size, digest, source.ref.host), size)
    finally:
        response.close()


def put_manifest(client: RegistryClient, reference: str, blob: Blob) -> None:
    """`PUT .../manifests/<reference>` (a digest, or a tag) with exactly `blob`'s bytes."""
    response = client.request(
        "PUT",
        f"{client.ref.base_url}/manifests/{reference}",
        "application/json",
        data=blob.data,
        headers={"Content-Type": blob.media_type},
    )
    if response.status_code not in (200, 201, 204):
        what = f"take the manifest {blob.digest}" if reference.startswith("sha256:") else f"tag {reference}"
        raise _refused(client, response, what)
    response.close()
    served = response.headers.get("Docker-Content-Digest")
    if served and served != blob.digest:
        raise ImageError(
            f"the registry {client.ref.host} stored the manifest under {served}, not {blob.digest}",
            hint="the registry rewrote the manifest; baker cannot vouch for what it serves",
        )


def cancel_upload(client: RegistryClient, location: str) -> None:
    """Drop an upload started and not wanted (`DELETE location`), at best: a registry purges
    abandoned uploads by itself, so a refusal here changes nothing."""
    with contextlib.suppress(ImageError):
        client.request("DELETE", location, "application/json").close()


def read_manifest(client: RegistryClient, reference: str, accept: str) -> Blob | None:
    """What `reference` (a tag) names now, as the exact bytes and media type a PUT by tag would
    put back; None when it names nothing (404)."""
    response = client.request("GET", f"{client.ref.base_url}/manifests/{reference}", accept)
    if response.status_code == 404:
        response.close()
        return None
    if response.status_code != 200:
        raise _refused(client, response, f"say what {reference} names")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    raw = client.read(response, "manifest", MANIFEST_MAX)
    return Blob(raw, content_type or media_type_of(parse_json(raw, "manifest")))


def delete(client: RegistryClient, kind: str, digest: str) -> bool:
    """`DELETE .../<kind>/<digest>` (`manifests` or `blobs`): True when it is gone (or was never
    there), False when the registry does not delete (HTTP 405, `UNSUPPORTED`: distribution's
    default); any other refusal is an ImageError.  Deleting a manifest by digest also removes the
    tags that name it (distribution untags them)."""
    response = client.request("DELETE", f"{client.ref.base_url}/{kind}/{digest}", "application/json")
    if response.status_code in (200, 202, 204, 404):
        response.close()
        return True
    status = response.status_code
    codes = error_codes(client, response)
    if status == 405 or "UNSUPPORTED" in codes:
        return False
    if status in (401, 403):
        raise client.denied(status, why=f" (it refused to delete {digest}{codes})")
    raise ImageError(
        f"the registry {client.ref.host} answered HTTP {status}{codes} when asked to delete {digest}"
    )


def manifest_digest(client: RegistryClient, reference: str, accept: str) -> str | None:
    """The digest a tag points at now, None when it points at nothing: the digest of the bytes a
    `GET` by tag returns (what `docker pull` reads), never a `Docker-Content-Digest` header.  A HEAD
    is not asked: its header is optional (a proxy may drop it) and a cache in front of the registry
    may serve it stale (rt3-2, rt3-3), and every decision resting on this answer (delete, put back,
    "not baked", "gone") must rest on what a pull gets."""
    blob = read_manifest(client, reference, accept)
    return blob.digest if blob is not None else None


__all__ = [
    "blob_exists",
    "cancel_upload",
    "copy_blob",
    "delete",
    "finish_upload",
    "manifest_digest",
    "put_manifest",
    "read_manifest",
    "start_upload",
    "upload",
]

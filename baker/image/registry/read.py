"""Read an image's config (labels, Env) straight from its registry, without pulling it.

`check` runs in CI on fresh runners where the baked image is not local; pulling gigabytes of
layers to read one label would be absurd.  The Registry HTTP API v2 gives the manifest (an OCI or
Docker v2 manifest, or an index/list of them: linux on this machine's architecture is picked,
else amd64, else the only one) and then the config blob, which holds the labels.

Auth is the registry token dance: a 401 carries `WWW-Authenticate: Bearer realm=...,service=...,
scope=...`; the token comes from the realm, with the user's `docker login` credentials when there
are any, anonymously otherwise.  Credentials are read as Docker reads them, by docker-py's rules
(via `builder.registry_login`): `credHelpers` for the host over `credsStore` over `auths`.  A user
and password go to the realm as Basic auth (`GET`); an identity token (what `az acr login` writes,
or a helper's `<token>` user) goes as an OAuth2 `grant_type=refresh_token` `POST`, as the
distribution token spec has it.  A `Basic` challenge is answered with the user and password.
Credentials are read on the first 401 only, so an anonymous registry never runs a helper.
Loopback registries (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) are spoken to over plain http,
as the Docker engine treats them as insecure by default; every other over https.

Speaks HTTP with `requests`; never imports docker itself.  Failures become `ImageError`; a registry
that says the image or repository does not exist gives None.  Registry passwords, identity tokens
and bearer tokens are registered with the Redactor the moment they are read.
"""

from __future__ import annotations

import hashlib
import logging
import platform
from typing import Any

from baker import imageref
from baker.errors import ImageError
from baker.image.registry.auth import Login, login_for  # re-exported: the names callers use
from baker.image.registry.client import CONFIG_MAX, MANIFEST_MAX, RegistryClient, parse_json
from baker.image.registry.refs import ImageRef, names_registry, parse_ref
from baker.image.registry.transport import resolve
from baker.record import Record

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
LIST_TYPES = MANIFEST_TYPES[:2]


class RemoteImage(Record):
    digest: str  # the config blob's digest: the image id a pull would give
    labels: dict[str, str]
    env: tuple[str, ...]


def _architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _pick(manifests: list[Any]) -> str:
    def platform(m: dict[str, Any]) -> dict[str, Any]:
        plat = m.get("platform")
        return plat if isinstance(plat, dict) else {}  # a registry may send null or junk

    candidates = [
        m
        for m in manifests
        if isinstance(m, dict) and isinstance(m.get("digest"), str) and platform(m).get("os") != "unknown"
    ]
    for arch in (_architecture(), "amd64"):
        for m in candidates:
            plat = platform(m)
            if plat.get("os") == "linux" and plat.get("architecture") == arch:
                return str(m["digest"])
    if len(candidates) == 1:
        return str(candidates[0]["digest"])
    raise ImageError("the image index holds no linux image for this machine or linux/amd64")


def fetch_config(ref: str) -> RemoteImage | None:
    """The image config of `ref` from its registry; None when the registry has no such image."""
    image = parse_ref(ref)
    with RegistryClient(image) as client:
        return _fetch(client, image, ref)


def _fetch(client: RegistryClient, image: ImageRef, ref: str) -> RemoteImage | None:
    accept = ", ".join(MANIFEST_TYPES)
    reference = image.reference
    for _ in range(2):  # an index, then the manifest it points at
        response = client.get(f"{image.base_url}/manifests/{reference}", accept)
        if response.status_code == 404:
            return None
        if response.status_code == 401 or response.status_code == 403:
            raise client.denied(response.status_code)
        if response.status_code != 200:
            raise ImageError(f"the registry {image.host} answered HTTP {response.status_code} for {ref}")
        manifest = client.read_json(response, "manifest", MANIFEST_MAX)
        media_type = manifest.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0]
        if media_type in LIST_TYPES or "manifests" in manifest:
            reference = _pick(list(manifest.get("manifests") or []))
            continue
        config = manifest.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
            raise ImageError(f"the registry's manifest for {ref} names no config blob")
        return read_config(client, image, str(config["digest"]))
    raise ImageError(f"the registry's index for {ref} points at another index")


def read_config(client: RegistryClient, image: ImageRef, digest: str) -> RemoteImage:
    response = client.get(f"{image.base_url}/blobs/{digest}", "application/json, */*")
    if response.status_code != 200:
        raise ImageError(
            f"the registry {image.host} answered HTTP {response.status_code} for the image config"
        )
    raw = client.read(response, "image config", CONFIG_MAX)
    algorithm, _, expected = digest.partition(":")
    if algorithm == "sha256" and hashlib.sha256(raw).hexdigest() != expected:
        raise ImageError("the image config the registry sent does not match its digest")
    body = parse_json(raw, "image config")
    config = body.get("config") or {}
    if not isinstance(config, dict):
        raise ImageError("the image config from the registry is malformed")
    labels = config.get("Labels") or {}
    env = config.get("Env") or []
    if not isinstance(labels, dict) or not isinstance(env, list):
        raise ImageError("the image config from the registry is malformed")
    return RemoteImage(
        digest=digest,
        labels={str(k): str(v) for k, v in labels.items()},
        env=tuple(str(item) for item in env),
    )


# --- before a push --------------------------------------------------------------------------------


def push_target(name: str) -> ImageRef:
    """Where a push of the image name `name` goes, by Docker's rule (docker-py's
    `resolve_repository_name`): a first part that is no host (`app:1`, `team/app`) means Docker Hub,
    `imageref.DOCKER_HUB_NAME`, whose API is at `imageref.DOCKER_HUB_API` (`ImageRef.api_host`)."""
    return parse_ref(imageref.with_registry(name))


def check_push(name: str) -> None:
    """Prove, before anything is pushed, that the registry of `name` is reachable and takes the
    user's credentials for a push to its repository, since a tag pushed cannot be taken back: a
    bake with tags on two registries must not leave the first one's tag behind when the second
    refuses.  `GET /v2/`; a 401 is answered as a pull would be (Basic with the user's login, or a
    bearer token from the realm), but the token is asked for `repository:<name>:pull,push`; then
    `GET /v2/` again must give 200.  Then the proof: an upload is started
    (`POST /v2/<name>/blobs/uploads/`, 202) and cancelled (`DELETE` on its `Location`), so a
    registry that reads fine but refuses writes (read-only mode, a pull-only account, a token
    service that grants less than asked) refuses here.  Raises ImageError otherwise.

    What it cannot see: a registry the engine reaches by a way this machine does not (a remote
    engine, the engine's own mirrors or insecure-registries list), and a refusal that comes only
    with the manifest (a tag that is immutable, a quota)."""
    image = push_target(name)
    with RegistryClient(image, push=True) as client:
        response = client.get(image.api_root, "application/json")
        response.close()
        if response.status_code in (401, 403):
            raise client.denied(response.status_code)
        if response.status_code != 200:
            raise ImageError(
                f"the registry {image.host} answered HTTP {response.status_code} to the API version check",
                hint=f"check the registry address; docker login {image.host}",
            )
        uploads = f"{image.base_url}/blobs/uploads/"
        response = client.request("POST", uploads, "application/json")
        response.close()
        if response.status_code in (401, 403, 405):
            raise client.denied(response.status_code, why=" (it refused to start an upload)")
        if response.status_code != 202:
            raise ImageError(
                f"the registry {image.host} answered HTTP {response.status_code} to starting an upload",
                hint=f"check the registry address; docker login {image.host}",
            )
        location = response.headers.get("Location")
        if location:
            _cancel_upload(client, resolve(uploads, location, image.host).text)


def _cancel_upload(client: RegistryClient, url: str) -> None:
    """Best effort: a registry forgets an abandoned upload by itself after a while."""
    try:
        response = client.request("DELETE", url, "application/json")
        response.close()
        status = response.status_code
    except ImageError:
        status = 0
    if status not in (200, 202, 204):
        logging.getLogger(__name__).debug("the empty upload to %s was not cancelled (%s)", url, status)


__all__ = [
    "ImageRef",
    "Login",
    "RemoteImage",
    "check_push",
    "fetch_config",
    "login_for",
    "names_registry",
    "parse_ref",
    "push_target",
    "read_config",
]

"""Talking to a registry's HTTP API v2: one operation against one registry (`RegistryClient`),
authenticated on its first 401 (`auth`), over the transport rules of `transport`.
`baker.image.registry.read` builds what baker asks of registries on top of it; image references are
`refs`.

A registry is not trusted to be well behaved:
- credentials (and the token they buy) go only to the registry's own origin (scheme, host and
  port) and to the token realm that origin named: redirects are followed here, one by one, and a
  hop to any other origin goes without `Authorization`; a 401 from another origin is a refusal;
- one operation (reading an image's config, one push check) ends by `DEADLINE` whatever the registry
  does: a watchdog shuts the operation's sockets down, so an answer trickled a byte at a time, in
  its headers or its body, is cut too (a read timeout bounds each read, not an answer);
- bodies are read streamed up to a cap (`MANIFEST_MAX`, `CONFIG_MAX`, `auth.TOKEN_MAX`), and JSON
  nested too deeply for the parser is a clear `ImageError`, like every other failure here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests
import urllib3.exceptions

from baker.deadline import Deadline
from baker.errors import ImageError
from baker.image import oci
from baker.image.registry import auth
from baker.image.registry.auth import Login
from baker.image.registry.refs import ImageRef
from baker.image.registry.transport import (
    TrackingAdapter,
    checked,
    origin,
    refuse_plain_http,
    registry_origin,
    replayable,
    resolve,
    shown_origin,
)
from baker.proxies import baker_session

DEADLINE = 120.0  # seconds, for one whole operation; tests make it small
MIB = oci.MIB
MANIFEST_MAX = oci.MANIFEST_MAX  # 4 MiB: distribution's own limit for a manifest PUT (see `oci`)
CONFIG_MAX = oci.CONFIG_MAX  # 4 MiB: what containers/image reads of a config blob (see `oci`)
ERROR_MAX = 64 * 1024  # an error body, read only to free the connection
_REDIRECTS_MAX = 5
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class RegistryClient:
    """One operation against one registry; use it as a context manager (the deadline starts when
    it is made and ends with the block, whatever the registry does)."""

    def __init__(
        self,
        ref: ImageRef,
        *,
        push: bool = False,
        pull_from: tuple[str, ...] = (),
        deadline: float | None = None,
        delete: bool = False,
    ) -> None:
        self._origin = registry_origin(ref)  # first: an address baker does not read starts nothing
        self.ref = ref
        self.push = push  # asks for a token that may push, and says so in its messages
        self.delete = delete  # with push: asks for a token that may delete manifests too
        # Other repositories of this registry the token must also read (a cross-repository mount).
        self.pull_from = tuple(r for r in dict.fromkeys(pull_from) if r != ref.repository)
        self.deadline = Deadline(DEADLINE if deadline is None else deadline)
        self.session = requests.Session()
        adapter = TrackingAdapter(self.deadline.sockets)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        baker_session(self.session)
        self.auth_header: str | None = None
        self._login: Login | None = None

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.deadline.cancel()
        self.session.close()

    def renew(self) -> None:
        """A fresh deadline, as long as the first, for the next operation on this client (a scan's
        next request, `walk.Reader`); its connections stay open."""
        self.deadline.cancel()
        fresh = Deadline(self.deadline.seconds)
        fresh.sockets = self.deadline.sockets  # the list the adapter records every connection in
        self.deadline = fresh

    @property
    def login(self) -> Login:
        """Read on the first 401 only: an anonymous registry never runs a credential helper."""
        if self._login is None:
            self._login = auth.login_for(self.ref.host)
        return self._login

    def request(
        self,
        method: str,
        url: str,
        accept: str,
        *,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """`method url`, authenticated on the registry's first 401.  The answer's body is not read
        yet (`read`, `read_json`); the answer is closed by the client's end at the latest.  `data`
        (a body) is sent again after a 401 or a redirect only when it is bytes: a stream cannot be,
        so a client that streams authenticates first with a request without one."""
        response, final = self._send(method, url, accept, data=data, headers=headers)
        if response.status_code == 401 and origin(final) != self._origin:
            response.close()
            raise ImageError(
                f"the registry {self.ref.host} sent baker on to {shown_origin(final)}, which asks for "
                "credentials: baker sends the credentials for a registry only to it and to the token "
                "service it names",
                hint=f"check the registry {self.ref.host}'s storage redirect configuration",
            )
        if response.status_code == 401 and self.auth_header is None:
            self.auth_header = auth.authenticate(self, response)
            response.close()
            replayable(data, self.ref.host)
            response, _ = self._send(method, url, accept, data=data, headers=headers)
        return response

    def get(self, url: str, accept: str) -> requests.Response:
        return self.request("GET", url, accept)

    def _send(
        self, method: str, url: str, accept: str, *, data: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[requests.Response, str]:
        """Redirects followed one hop at a time: `Authorization` only while on the registry's origin.
        Each URL is read once (`transport.checked`): the origin compared is the one connected to."""
        target = checked(url, self.ref.host)
        for _ in range(_REDIRECTS_MAX + 1):
            sent = {**(headers or {}), "Accept": accept}
            if self.auth_header and target.origin == self._origin:
                sent["Authorization"] = self.auth_header
            body = {} if data is None else {"data": data}
            response = self.http(method, target.text, headers=sent, **body)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                return response, target.text
            response.close()
            if response.status_code in (307, 308):
                replayable(data, self.ref.host)
            target = resolve(target.text, location, self.ref.host)
            if response.status_code == 303:
                method = "GET"
        raise ImageError(f"the registry {self.ref.host} redirected more than {_REDIRECTS_MAX} times")

    def http(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange, streamed, never following a redirect by itself; failures (the
        deadline's among them) become ImageError.  Plain http goes to loopback only: an upload
        `Location`, a redirect or a realm that steps down from https elsewhere is refused before
        anything (a config blob holds every value) is sent."""
        refuse_plain_http(url, self.ref.host)
        target = checked(url, self.ref.host)  # connected to as checked, normalised
        left = self.deadline.left()
        try:
            response = self.session.request(
                method, target.text, timeout=(left, left), allow_redirects=False, stream=True, **kwargs
            )
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(type(exc).__name__) from None
        if self.deadline.expired:  # cut mid-headers, http.client may take what came for an answer
            response.close()
            raise self._unreachable("deadline")
        return response

    def _unreachable(self, why: str) -> ImageError:
        if self.deadline.passed:
            return ImageError(
                f"the registry {self.ref.host} did not answer within {self.deadline.seconds:g} s",
                hint="check that the registry is up and not overloaded; try again later",
            )
        hint = "check the registry host in the image reference and the network"
        if self.push:
            hint = f"check the registry address and that it is up; docker login {self.ref.host}"
        return ImageError(f"cannot reach the registry {self.ref.host} ({why})", hint=hint)

    def read(
        self, response: requests.Response, what: str, limit: int, *, over: ImageError | None = None
    ) -> bytes:
        """The answer's body, at most `limit` bytes: a larger one is refused (`over`, else "larger
        than"), not read whole."""
        try:
            declared = int(response.headers.get("Content-Length") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                raise over if over is not None else too_large(what, limit)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise over if over is not None else too_large(what, limit)
                chunks.append(chunk)
            if self.deadline.expired:  # cut short: what came is not the answer
                raise self._unreachable("deadline")
            return b"".join(chunks)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(type(exc).__name__) from None
        finally:
            response.close()

    def read_json(self, response: requests.Response, what: str, limit: int) -> dict[str, Any]:
        return parse_json(self.read(response, what, limit), what)

    def denied(self, status: int = 401, *, why: str = "") -> ImageError:
        return auth.refused(self, status, why=why)


def too_large(what: str, limit: int) -> ImageError:
    return ImageError(
        f"the registry's {what} is larger than {limit // MIB} MiB; baker does not read it",
        hint="check that the reference names an image, and that the registry is the one you meant",
    )


def error_codes(client: RegistryClient, response: requests.Response) -> str:
    """The distribution error codes of a refusal (` (DENIED)`), nothing else of its body."""
    try:
        raw = client.read(response, "error", ERROR_MAX)
    except (ImageError, ValueError):  # a body already gone, or cut: the status says enough
        return ""
    codes = sorted(set(re.findall(rb'"code"\s*:\s*"([A-Z_]{1,40})"', raw)))
    return f" ({', '.join(code.decode() for code in codes)})" if codes else ""


def parse_json(raw: bytes, what: str) -> dict[str, Any]:
    """A JSON object from a registry; nesting deeper than the parser goes is an error, not a crash."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ImageError(
            f"the registry's {what} nests JSON too deeply to read",
            hint="check that the reference names an image, and that the registry is the one you meant",
        ) from None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ImageError(f"the registry answered a {what} request with something that is not a JSON object")
    return body

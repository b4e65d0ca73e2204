"""Talking to a registry's HTTP API v2: image references, the user's credentials (read as Docker
reads them), and the authentication dance (Basic, bearer tokens, OAuth2 refresh-token grants for
identity tokens).  `baker.image.registry.read` builds what baker asks of registries on top of it.

Loopback registries (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) are spoken to over plain http, as
the Docker engine treats them as insecure by default; every other over https.  Passwords, identity
tokens and bearer tokens are registered with the Redactor the moment they are read.

A registry is not trusted to be well behaved:
- credentials (and the token they buy) go only to the registry's own origin (scheme, host and
  port) and to the token realm that origin named: redirects are followed here, one by one, and a
  hop to any other origin goes without `Authorization`; a 401 from another origin is a refusal;
- one operation (reading an image's config, one push check) ends by `DEADLINE` whatever the registry
  does: a watchdog shuts the operation's sockets down, so an answer trickled a byte at a time, in
  its headers or its body, is cut too (a read timeout bounds each read, not an answer);
- bodies are read streamed up to a cap (`MANIFEST_MAX`, `CONFIG_MAX`, `TOKEN_MAX`), and JSON nested
  too deeply for the parser is a clear `ImageError`, like every other failure here.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from baker import imageref
from baker.errors import ImageError, UsageError
from baker.loopback import is_loopback
from baker.secret import REDACTOR, Secret

TIMEOUT = 30  # seconds, for each connect and each read
DEADLINE = 120.0  # seconds, for one whole operation; tests make it small
MIB = 1024 * 1024
MANIFEST_MAX = 4 * MIB  # distribution's own limit for a manifest PUT
CONFIG_MAX = 32 * MIB  # an image config: labels and history, never layers
TOKEN_MAX = 1 * MIB
ERROR_MAX = 64 * 1024  # an error body, read only to free the connection
_REDIRECTS_MAX = 5
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}
CLIENT_ID = "baker"  # names the client in the OAuth2 token request, as `docker` sends "docker"


@dataclass(frozen=True)
class ImageRef:
    host: str  # as written: registry.example.com, localhost:5000
    repository: str
    reference: str  # tag or digest

    @property
    def api_host(self) -> str:
        return "registry-1.docker.io" if self.host in _DOCKER_HUB else self.host

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
    if parsed.domain in _DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(parsed.domain, repository, parsed.digest or parsed.tag or "latest")


# --- credentials ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """What the docker config holds for one registry.  `helper` is the credential helper it names
    for the registry ("" when none), kept so a refusal can say which one was asked."""

    helper: str = ""
    user: str = ""
    password: Secret | None = None
    identity_token: Secret | None = None

    @property
    def basic(self) -> str | None:
        """The `Authorization: Basic` value for user and password, if there are both."""
        if not self.user or self.password is None:
            return None
        raw = f"{self.user}:{self.password.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    @property
    def found(self) -> bool:
        return self.basic is not None or self.identity_token is not None


def login_for(host: str) -> Login:
    """The user's `docker login` for `host`, read as Docker reads it (`dockerconfig.registry_login`)."""
    # Guards: docker-py's config reader is imported only when a registry asks for credentials.
    from baker.image.dockerconfig import registry_login

    helper, user, password, token = registry_login("docker.io" if host in _DOCKER_HUB else host)
    return Login(
        helper=helper,
        user=user if password else "",
        password=Secret(password) if password and user else None,
        identity_token=Secret(token) if token else None,
    )


def _check_realm(realm: str, registry: str) -> None:
    """Credentials go to a token service only over https (plain http only on loopback, as for the
    registry itself): a realm naming http elsewhere would send the password in the clear."""
    parts = urllib.parse.urlsplit(realm)
    host = parts.hostname or ""
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)):
        return
    raise ImageError(
        f"the registry {registry} names a token service that is not https ({parts.scheme}://{host}); "
        "baker will not send credentials there",
        hint="check the registry's auth configuration (its token realm must be https)",
    )


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', params))


# --- the transport: origins, a deadline, capped reads -------------------------------------------


def _origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port: what must match for credentials to go along."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def _shown_origin(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"


class _TrackingAdapter(requests.adapters.HTTPAdapter):
    """Remembers every socket its connections open, so a watchdog can shut them down."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        def tracked(base: Any) -> Any:
            def connect(conn: Any) -> None:
                base.connect(conn)
                sockets.append(conn.sock)

            return type(f"Tracked{base.__name__}", (base,), {"connect": connect})

        self._pools = {
            "http": type(
                "TrackedPool",
                (urllib3.connectionpool.HTTPConnectionPool,),
                {"ConnectionCls": tracked(urllib3.connection.HTTPConnection)},
            ),
            "https": type(
                "TrackedHTTPSPool",
                (urllib3.connectionpool.HTTPSConnectionPool,),
                {"ConnectionCls": tracked(urllib3.connection.HTTPSConnection)},
            ),
        }
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager


class _Deadline:
    """The end of one operation: a timer that shuts down every socket of it when it comes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def left(self) -> float:
        return max(0.05, min(float(TIMEOUT), self.end - time.monotonic()))

    def cancel(self) -> None:
        self._timer.cancel()


# --- the API --------------------------------------------------------------------------------------


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
        self.ref = ref
        self.push = push  # asks for a token that may push, and says so in its messages
        self.delete = delete  # with push: asks for a token that may delete manifests too
        # Other repositories of this registry the token must also read (a cross-repository mount).
        self.pull_from = tuple(r for r in dict.fromkeys(pull_from) if r != ref.repository)
        self.deadline = _Deadline(DEADLINE if deadline is None else deadline)
        self.session = requests.Session()
        adapter = _TrackingAdapter(self.deadline.sockets)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.auth_header: str | None = None
        self._login: Login | None = None
        self._origin = _origin(ref.api_root)

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.deadline.cancel()
        self.session.close()

    @property
    def login(self) -> Login:
        """Read on the first 401 only: an anonymous registry never runs a credential helper."""
        if self._login is None:
            self._login = login_for(self.ref.host)
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
        if response.status_code == 401 and _origin(final) != self._origin:
            response.close()
            raise ImageError(
                f"the registry {self.ref.host} sent baker on to {_shown_origin(final)}, which asks for "
                "credentials: baker sends the credentials for a registry only to it and to the token "
                "service it names",
                hint=f"check the registry {self.ref.host}'s storage redirect configuration",
            )
        if response.status_code == 401 and self.auth_header is None:
            self._authenticate(response)
            response.close()
            _replayable(data, self.ref.host)
            response, _ = self._send(method, url, accept, data=data, headers=headers)
        return response

    def get(self, url: str, accept: str) -> requests.Response:
        return self.request("GET", url, accept)

    def _send(
        self, method: str, url: str, accept: str, *, data: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[requests.Response, str]:
        """Redirects followed one hop at a time: `Authorization` only while on the registry's origin."""
        for _ in range(_REDIRECTS_MAX + 1):
            sent = {**(headers or {}), "Accept": accept}
            if self.auth_header and _origin(url) == self._origin:
                sent["Authorization"] = self.auth_header
            body = {} if data is None else {"data": data}
            response = self._http(method, url, headers=sent, **body)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                return response, url
            response.close()
            if response.status_code in (307, 308):
                _replayable(data, self.ref.host)
            url = urllib.parse.urljoin(url, location)
            if _origin(url)[0] not in {"http", "https"}:
                raise ImageError(f"the registry {self.ref.host} redirected to something that is not http(s)")
            if response.status_code == 303:
                method = "GET"
        raise ImageError(f"the registry {self.ref.host} redirected more than {_REDIRECTS_MAX} times")

    def _http(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange, streamed, never following a redirect by itself; failures (the
        deadline's among them) become ImageError.  Plain http goes to loopback only: an upload
        `Location`, a redirect or a realm that steps down from https elsewhere is refused before
        anything (a config blob holds every value) is sent."""
        _refuse_plain_http(url, self.ref.host)
        left = self.deadline.left()
        try:
            response = self.session.request(
                method, url, timeout=(left, left), allow_redirects=False, stream=True, **kwargs
            )
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(type(exc).__name__) from None
        if self.deadline.expired:  # cut mid-headers, http.client may take what came for an answer
            response.close()
            raise self._unreachable("deadline")
        return response

    def _unreachable(self, why: str) -> ImageError:
        if self.deadline.expired:
            return ImageError(
                f"the registry {self.ref.host} did not answer within {self.deadline.seconds:g} s",
                hint="check that the registry is up and not overloaded; try again later",
            )
        hint = "check the registry host in the image reference and the network"
        if self.push:
            hint = f"check the registry address and that it is up; docker login {self.ref.host}"
        return ImageError(f"cannot reach the registry {self.ref.host} ({why})", hint=hint)

    def read(self, response: requests.Response, what: str, limit: int) -> bytes:
        """The answer's body, at most `limit` bytes: a larger one is refused, not read whole."""
        try:
            declared = int(response.headers.get("Content-Length") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                raise _too_large(what, limit)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise _too_large(what, limit)
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

    def _authenticate(self, response: requests.Response) -> None:
        scheme, params = _challenge(response.headers.get("WWW-Authenticate", ""))
        basic = self.login.basic
        if scheme == "basic":
            if basic is None:
                raise self.denied()
            self.auth_header = basic
            return
        if scheme != "bearer" or "realm" not in params:
            raise self.denied()
        realm = params["realm"]
        _check_realm(realm, self.ref.host)
        query: dict[str, str | list[str]] = {k: v for k, v in params.items() if k in {"service", "scope"}}
        actions = "pull,push,delete" if self.push and self.delete else "pull,push" if self.push else "pull"
        scope = f"repository:{self.ref.repository}:{actions}"
        # A push check must ask for push itself: a challenge's own scope (if any) is for a read.
        query["scope"] = scope if self.push else query.get("scope", scope)
        if self.pull_from:  # the distribution token spec: one `scope` parameter per repository
            query["scope"] = [scope, *(f"repository:{name}:pull" for name in self.pull_from)]
        # No redirects: the credentials must reach the realm the registry named, nowhere else.
        if self.login.identity_token is not None:
            answer = self._refresh_token_grant(realm, query, self.login.identity_token)
        else:
            headers = {"Authorization": basic} if basic else {}
            answer = self._http("GET", realm, params=query, headers=headers)
        if answer.status_code != 200:
            answer.close()
            raise self.denied(answer.status_code)
        body = self.read_json(answer, "token", TOKEN_MAX)
        refreshed = body.get("refresh_token")
        if isinstance(refreshed, str) and refreshed:
            REDACTOR.register(refreshed, label="registry refresh token")
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str):
            raise ImageError(f"the registry {self.ref.host} gave no token")
        REDACTOR.register(token, label="registry token")
        if self.push and "push" not in (_granted(token, self.ref.repository) or {"push"}):
            raise self.denied(answer.status_code, why=" (its token service granted no push)")
        self.auth_header = f"Bearer {token}"

    def _refresh_token_grant(
        self, realm: str, query: dict[str, str | list[str]], token: Secret
    ) -> requests.Response:
        """The OAuth2 form of the token request, which an identity token (what `az acr login`
        stores) needs: the distribution spec's `grant_type=refresh_token` POST to the realm."""
        form: dict[str, str | list[str]] = {
            "grant_type": "refresh_token",
            "refresh_token": token.reveal(),
            "client_id": CLIENT_ID,
            **query,
        }
        return self._http("POST", realm, data=form)

    def denied(self, status: int = 401, *, why: str = "") -> ImageError:
        login = self.login
        may = f"push to {self.ref.repository}" if self.push else "pull the image"
        hint = f"run `docker login {self.ref.host}` with an account that may {may}"
        if login.helper:
            tried = f"docker-credential-{login.helper}"
            hint += f" (baker asked the credential helper {tried}, which the docker config names)"
            why = why or ("" if login.found else f" (no credentials for it from {tried})")
        else:
            why = why or ("" if login.found else " (no `docker login` credentials found for it)")
        return ImageError(
            f"the registry {self.ref.host} refused access to {self.ref.repository} (HTTP {status}){why}",
            hint=hint,
        )


def _refuse_plain_http(url: str, registry: str) -> None:
    """Plain http only to loopback, as for the registry itself: a registry spoken to over https
    that names an `http://` upload location or redirect elsewhere (a TLS-terminating proxy without
    X-Forwarded-Proto does) would get the request, and its body, in clear text."""
    scheme, host, _ = _origin(url)
    if scheme == "http" and not is_loopback(host):
        raise ImageError(
            f"the registry {registry} sent baker to plain http ({_shown_origin(url)}); baker speaks "
            "only https to a host that is not loopback, and sent nothing there",
            hint="check the registry's (or its TLS proxy's) external URL: it must be https "
            "(behind a proxy, set X-Forwarded-Proto)",
        )


def _replayable(data: Any, host: str) -> None:
    """A body can be sent a second time only when it is bytes (or absent)."""
    if data is not None and not isinstance(data, bytes):
        raise ImageError(
            f"the registry {host} asked again for a streamed upload (a 401 or a redirect mid-upload), "
            "which baker cannot send twice",
            hint="try again; check the registry's auth and storage redirect configuration",
        )


def _too_large(what: str, limit: int) -> ImageError:
    return ImageError(
        f"the registry's {what} is larger than {limit // MIB} MiB; baker does not read it",
        hint="check that the reference names an image, and that the registry is the one you meant",
    )


def _granted(token: str, repository: str) -> set[str] | None:
    """The actions a registry token grants on `repository`, when the token is a JWT with the
    distribution token spec's `access` claim (Docker Hub's, ACR's, Harbor's are); None when it is
    opaque.  Such a service answers a request for more than the account may do with a token for
    less, not with a refusal, so this is how a push check sees a read-only account."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    access = claims.get("access") if isinstance(claims, dict) else None
    if not isinstance(access, list):
        return None
    granted: set[str] = set()
    for item in access:
        if isinstance(item, dict) and item.get("type") == "repository" and item.get("name") == repository:
            actions = item.get("actions")
            if isinstance(actions, list):
                granted.update(a for a in actions if isinstance(a, str))
    return granted


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

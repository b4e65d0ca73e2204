"""Talking to a registry's HTTP API v2: image references, the user's credentials (read as Docker
reads them), and the authentication dance (Basic, bearer tokens, OAuth2 refresh-token grants for
identity tokens).  `baker.registry` builds what baker asks of registries on top of it.

Loopback registries (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) are spoken to over plain http, as
the Docker engine treats them as insecure by default; every other over https.  Passwords, identity
tokens and bearer tokens are registered with the Redactor the moment they are read.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import requests

from baker.errors import ImageError
from baker.secret import REDACTOR, Secret

TIMEOUT = 30
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
    """Whether `ref` starts with a registry host (`host.domain/`, `host:port/`, `localhost/`)."""
    first, sep, _ = ref.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def is_loopback(host: str) -> bool:
    name = host
    if name.startswith("["):
        name = name[1 : name.index("]")]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_ref(ref: str) -> ImageRef:
    if not names_registry(ref):
        raise ImageError(f"{ref!r} names no registry host")
    host, _, rest = ref.partition("/")
    if "@" in rest:
        repository, _, reference = rest.partition("@")
        repository = repository.rsplit(":", 1)[0] if ":" in repository else repository
    elif ":" in rest.rsplit("/", 1)[-1]:
        repository, _, reference = rest.rpartition(":")
    else:
        repository, reference = rest, "latest"
    if host in _DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if not repository or not reference:
        raise ImageError(f"{ref!r} is not an image reference")
    return ImageRef(host, repository, reference)


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
    """The user's `docker login` for `host`, read as Docker reads it (see `builder.registry_login`:
    the only module that imports docker, loaded here only when a registry asks for credentials)."""
    from baker import builder

    helper, user, password, token = builder.registry_login("docker.io" if host in _DOCKER_HUB else host)
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


# --- the API --------------------------------------------------------------------------------------


class _Client:
    def __init__(self, ref: ImageRef, *, push: bool = False) -> None:
        self.ref = ref
        self.push = push  # asks for a token that may push, and says so in its messages
        self.session = requests.Session()
        self.auth_header: str | None = None
        self._login: Login | None = None

    @property
    def login(self) -> Login:
        """Read on the first 401 only: an anonymous registry never runs a credential helper."""
        if self._login is None:
            self._login = login_for(self.ref.host)
        return self._login

    def get(self, url: str, accept: str) -> requests.Response:
        response = self._send(url, accept)
        if response.status_code == 401 and self.auth_header is None:
            self._authenticate(response)
            response = self._send(url, accept)
        return response

    def _send(self, url: str, accept: str) -> requests.Response:
        headers = {"Accept": accept}
        if self.auth_header:
            headers["Authorization"] = self.auth_header
        try:
            return self.session.get(url, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as exc:
            hint = "check the registry host in the image reference and the network"
            if self.push:
                hint = f"check the registry address and that it is up; docker login {self.ref.host}"
            raise ImageError(
                f"cannot reach the registry {self.ref.host} ({type(exc).__name__})", hint=hint
            ) from None

    def _authenticate(self, response: requests.Response) -> None:
        scheme, params = _challenge(response.headers.get("WWW-Authenticate", ""))
        basic = self.login.basic
        if scheme == "basic":
            if basic is None:
                raise self._denied()
            self.auth_header = basic
            return
        if scheme != "bearer" or "realm" not in params:
            raise self._denied()
        _check_realm(params["realm"], self.ref.host)
        query = {k: v for k, v in params.items() if k in {"service", "scope"}}
        scope = f"repository:{self.ref.repository}:{'pull,push' if self.push else 'pull'}"
        # A push check must ask for push itself: a challenge's own scope (if any) is for a read.
        query["scope"] = scope if self.push else query.get("scope", scope)
        try:
            if self.login.identity_token is not None:
                answer = self._refresh_token_grant(params["realm"], query, self.login.identity_token)
            else:
                headers = {"Authorization": basic} if basic else {}
                # No redirects: the credentials must reach the realm the registry named, nowhere else.
                answer = self.session.get(
                    params["realm"], params=query, headers=headers, timeout=TIMEOUT, allow_redirects=False
                )
        except requests.RequestException as exc:
            raise ImageError(
                f"cannot reach the registry's token service ({type(exc).__name__})",
                hint=f"check the network; docker login {self.ref.host}" if self.push else None,
            ) from None
        if answer.status_code != 200:
            raise self._denied(answer.status_code)
        body = _json(answer, "token")
        refreshed = body.get("refresh_token")
        if isinstance(refreshed, str) and refreshed:
            REDACTOR.register(refreshed, label="registry refresh token")
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str):
            raise ImageError(f"the registry {self.ref.host} gave no token")
        REDACTOR.register(token, label="registry token")
        if self.push and "push" not in (_granted(token, self.ref.repository) or {"push"}):
            raise self._denied(answer.status_code, why=" (its token service granted no push)")
        self.auth_header = f"Bearer {token}"

    def _refresh_token_grant(self, realm: str, query: dict[str, str], token: Secret) -> requests.Response:
        """The OAuth2 form of the token request, which an identity token (what `az acr login`
        stores) needs: the distribution spec's `grant_type=refresh_token` POST to the realm."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": token.reveal(),
            "client_id": CLIENT_ID,
            **query,
        }
        # No redirects: requests would carry the form (the identity token) to wherever it points.
        return self.session.post(realm, data=form, timeout=TIMEOUT, allow_redirects=False)

    def _denied(self, status: int = 401, *, why: str = "") -> ImageError:
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


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ImageError(f"the registry answered a {what} request with something that is not a JSON object")
    return body

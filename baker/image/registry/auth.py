"""Registry authentication: the user's credentials (read as Docker reads them), the challenge a
401 carries, and the token dance (Basic, bearer tokens, OAuth2 refresh-token grants for identity
tokens).  Passwords, identity tokens and bearer tokens are registered with the Redactor the moment
they are read; credentials go to a token realm only over https (plain http only on loopback) and
never through a redirect."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from baker import urls
from baker.errors import ImageError
from baker.imageref import registry_name
from baker.loopback import is_loopback
from baker.record import Record
from baker.secret import REDACTOR, Secret

if TYPE_CHECKING:
    import requests

    from baker.image.registry.refs import ImageRef

TOKEN_MAX = 1 * 1024 * 1024
CHALLENGE_MAX = 8 * 1024  # characters of a `WWW-Authenticate` header: a real one is a few hundred
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
CLIENT_ID = "baker"  # names the client in the OAuth2 token request, as `docker` sends "docker"
# The distribution token spec: a token without `expires_in` lasts 60 seconds.  A token is reused
# until REUSE_MARGIN seconds before it ends (a request started then still reaches the registry in time).
DEFAULT_TOKEN_LIFETIME = 60.0
REUSE_MARGIN = 10.0

# One process, one read of each registry's login (a credential helper is a program: run once per
# registry, not once per client), and one token per realm, scope and login until it nears its end
# (an in-registry bake makes a client per step: it fetched the same token six times).  Keyed by the
# docker config's place and state, so a `docker login` in between is seen.
_LOGIN_LOCK = threading.Lock()
_LOGINS: dict[tuple[str, tuple[object, ...]], Login] = {}
_TOKEN_LOCK = threading.Lock()
_TOKENS: dict[tuple[str, ...], tuple[float, str]] = {}


class Login(Record):
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


def _config_state() -> tuple[object, ...]:
    """Where the docker config is and what state its file is in: a cached login is for this one."""
    directory = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        status = (Path(directory) / "config.json").stat()
    except OSError:
        return (directory, None, None)
    return (directory, status.st_mtime_ns, status.st_size)


def login_for(host: str) -> Login:
    """The user's `docker login` for `host`, read as Docker reads it (`dockerconfig.registry_login`),
    once per process for a docker config's state (a credential helper runs once per registry)."""
    # Guards: docker-py's config reader is imported only when a registry asks for credentials.
    from baker.image.dockerconfig import registry_login

    key = (host, _config_state())
    with _LOGIN_LOCK:  # held while a helper runs: two threads asking at once run it once
        cached = _LOGINS.get(key)
        if cached is not None:
            return cached
        helper, user, password, token = registry_login(registry_name(host))
        login = Login(
            helper=helper,
            user=user if password else "",
            password=Secret(password) if password and user else None,
            identity_token=Secret(token) if token else None,
        )
        _LOGINS[key] = login
        return login


def forget() -> None:
    """Drop every login and token kept (a new run in the same process: the tests, an API user who
    changed credentials in a way the docker config's file does not show)."""
    with _LOGIN_LOCK:
        _LOGINS.clear()
    with _TOKEN_LOCK:
        _TOKENS.clear()


def _token_key(realm: str, query: dict[str, str | list[str]], login: Login) -> tuple[str, ...]:
    """A token is for a realm, a service, its scopes and the login that bought it (as a digest: no
    credential is kept in a key)."""
    scopes = query.get("scope", [])
    scopes = sorted(scopes) if isinstance(scopes, list) else [scopes]
    who = login.basic or (login.identity_token.reveal() if login.identity_token is not None else "")
    service = query.get("service", "")
    return (realm, str(service), *scopes, hashlib.sha256(who.encode()).hexdigest())


def _reused(key: tuple[str, ...]) -> str | None:
    with _TOKEN_LOCK:
        entry = _TOKENS.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry[0]:
            del _TOKENS[key]
            return None
        return entry[1]


def _keep(key: tuple[str, ...], header: str, body: dict[str, object]) -> None:
    lifetime = body.get("expires_in")
    seconds = (
        float(lifetime) if isinstance(lifetime, (int, float)) and lifetime > 0 else DEFAULT_TOKEN_LIFETIME
    )
    if seconds > REUSE_MARGIN:
        with _TOKEN_LOCK:
            _TOKENS[key] = (time.monotonic() + seconds - REUSE_MARGIN, header)


def check_realm(realm: str, registry: str) -> None:
    """Credentials go to a token service only over https (plain http only on loopback, as for the
    registry itself): a realm naming http elsewhere would send the password in the clear."""
    try:
        target = urls.target(realm)  # read once, as `client.http` connects to it
    except urls.UrlError as exc:
        raise ImageError(
            f"the registry {registry} names a token service that is not https, or not a URL baker "
            f"reads one way only ({exc.reason}); baker will not send credentials there",
            hint="check the registry's auth configuration (its token realm must be a plain https URL)",
        ) from None
    if target.scheme == "https" or is_loopback(target.host):
        return
    raise ImageError(
        f"the registry {registry} names a token service that is not https ({target.shown}); "
        "baker will not send credentials there",
        hint="check the registry's auth configuration (its token realm must be https)",
    )


class Asking(Protocol):
    """What the token dance needs of the one asking (`RegistryClient` is one): whose repository, with
    which credentials, for which actions, and two ways to ask a realm.  Narrow, so auth never
    reaches back into the client that calls it."""

    @property
    def ref(self) -> ImageRef: ...
    @property
    def login(self) -> Login: ...
    @property
    def push(self) -> bool: ...
    @property
    def delete(self) -> bool: ...
    @property
    def pull_from(self) -> tuple[str, ...]: ...
    def http(self, method: str, url: str, **kwargs: Any) -> requests.Response: ...
    def read_json(self, response: requests.Response, what: str, limit: int) -> dict[str, Any]: ...


def challenge(header: str) -> tuple[str, dict[str, str]]:
    """A `WWW-Authenticate` challenge (RFC 7235): its scheme and parameters (names lower-cased, values
    a token or a quoted string with its escapes read; the last of a name wins, as Docker's parser
    has it).  One pass, each character looked at a bounded number of times: a pattern that
    backtracks over a long word is quadratic (rt3-5).  The caller caps the length (`CHALLENGE_MAX`)."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    at, end = 0, len(rest)
    while at < end:
        while at < end and rest[at] in " \t,":
            at += 1
        start = at
        while at < end and rest[at] in _TCHAR:
            at += 1
        name = rest[start:at].lower()
        while at < end and rest[at] in " \t":
            at += 1
        if not name or at >= end or rest[at] != "=":  # not a parameter: skip to the next one
            comma = rest.find(",", at)
            if comma < 0:
                break
            at = comma + 1
            continue
        at += 1
        while at < end and rest[at] in " \t":
            at += 1
        if at < end and rest[at] == '"':
            value, at = _quoted(rest, at + 1)
            if value is None:
                break  # unterminated: nothing after it is read
        else:
            start = at
            while at < end and rest[at] not in " \t,":
                at += 1
            value = rest[start:at]
        params[name] = value
    return scheme.lower(), params


def _quoted(text: str, at: int) -> tuple[str | None, int]:
    """The quoted string that starts at `at` (just after its opening quote), and where it ends."""
    chars: list[str] = []
    while at < len(text):
        char = text[at]
        if char == '"':
            return "".join(chars), at + 1
        if char == "\\" and at + 1 < len(text):
            at += 1
            char = text[at]
        chars.append(char)
        at += 1
    return None, at


def authenticate(client: Asking, response: requests.Response) -> str:
    """The `Authorization` value that answers the registry's 401 `response`: Basic, or a bearer
    token bought from the realm the registry named (the token dance), for the client's scope."""
    header = response.headers.get("WWW-Authenticate", "")
    if len(header) > CHALLENGE_MAX:
        raise ImageError(
            f"the registry {client.ref.host} asked for credentials with a WWW-Authenticate header of "
            f"{len(header)} characters (more than {CHALLENGE_MAX}); baker does not read it",
            hint="check that the registry (or the proxy in front of it) is the one you meant",
        )
    scheme, params = challenge(header)
    basic = client.login.basic
    if scheme == "basic":
        if basic is None:
            raise refused(client)
        return basic
    if scheme != "bearer" or "realm" not in params:
        raise refused(client)
    realm = params["realm"]
    check_realm(realm, client.ref.host)
    query: dict[str, str | list[str]] = {k: v for k, v in params.items() if k in {"service", "scope"}}
    actions = "pull,push,delete" if client.push and client.delete else "pull,push" if client.push else "pull"
    scope = f"repository:{client.ref.repository}:{actions}"
    # A push check must ask for push itself: a challenge's own scope (if any) is for a read.
    query["scope"] = scope if client.push else query.get("scope", scope)
    if client.pull_from:  # the distribution token spec: one `scope` parameter per repository
        query["scope"] = [scope, *(f"repository:{name}:pull" for name in client.pull_from)]
    key = _token_key(realm, query, client.login)
    reused = _reused(key)
    if reused is not None:  # the same token for the same scope, bought earlier in this process
        return reused
    # No redirects: the credentials must reach the realm the registry named, nowhere else.
    if client.login.identity_token is not None:
        answer = _refresh_token_grant(client, realm, query, client.login.identity_token)
    else:
        headers = {"Authorization": basic} if basic else {}
        answer = client.http("GET", realm, params=query, headers=headers)
    if answer.status_code != 200:
        answer.close()
        raise refused(client, answer.status_code)
    body = client.read_json(answer, "token", TOKEN_MAX)
    refreshed = body.get("refresh_token")
    if isinstance(refreshed, str) and refreshed:
        REDACTOR.register(refreshed, label="registry refresh token")
    token = body.get("token") or body.get("access_token")
    if not isinstance(token, str):
        raise ImageError(f"the registry {client.ref.host} gave no token")
    REDACTOR.register(token, label="registry token")
    if client.push and "push" not in (granted_actions(token, client.ref.repository) or {"push"}):
        raise refused(client, answer.status_code, why=" (its token service granted no push)")
    _keep(key, f"Bearer {token}", body)
    return f"Bearer {token}"


def _refresh_token_grant(
    client: Asking, realm: str, query: dict[str, str | list[str]], token: Secret
) -> requests.Response:
    """The OAuth2 form of the token request, which an identity token (what `az acr login`
    stores) needs: the distribution spec's `grant_type=refresh_token` POST to the realm."""
    form: dict[str, str | list[str]] = {
        "grant_type": "refresh_token",
        "refresh_token": token.reveal(),
        "client_id": CLIENT_ID,
        **query,
    }
    return client.http("POST", realm, data=form)


def refused(client: Asking, status: int = 401, *, why: str = "") -> ImageError:
    """The refusal of access to the client's repository, naming the credentials baker tried."""
    login = client.login
    may = f"push to {client.ref.repository}" if client.push else "pull the image"
    hint = f"run `docker login {client.ref.host}` with an account that may {may}"
    if login.helper:
        tried = f"docker-credential-{login.helper}"
        hint += f" (baker asked the credential helper {tried}, which the docker config names)"
        why = why or ("" if login.found else f" (no credentials for it from {tried})")
    else:
        why = why or ("" if login.found else " (no `docker login` credentials found for it)")
    return ImageError(
        f"the registry {client.ref.host} refused access to {client.ref.repository} (HTTP {status}){why}",
        hint=hint,
    )


def granted_actions(token: str, repository: str) -> set[str] | None:
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

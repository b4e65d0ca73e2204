"""Registry authentication: the user's credentials (read as Docker reads them), the challenge a
401 carries, and the token dance (Basic, bearer tokens, OAuth2 refresh-token grants for identity
tokens).  Passwords, identity tokens and bearer tokens are registered with the Redactor the moment
they are read; credentials go to a token realm only over https (plain http only on loopback) and
never through a redirect."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from baker.errors import ImageError
from baker.imageref import registry_name
from baker.loopback import is_loopback
from baker.secret import REDACTOR, Secret

if TYPE_CHECKING:
    import requests

    from baker.image.registry.client import RegistryClient

TOKEN_MAX = 1 * 1024 * 1024
CLIENT_ID = "baker"  # names the client in the OAuth2 token request, as `docker` sends "docker"


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

    helper, user, password, token = registry_login(registry_name(host))
    return Login(
        helper=helper,
        user=user if password else "",
        password=Secret(password) if password and user else None,
        identity_token=Secret(token) if token else None,
    )


def check_realm(realm: str, registry: str) -> None:
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


def challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', params))


def authenticate(client: RegistryClient, response: requests.Response) -> str:
    """The `Authorization` value that answers the registry's 401 `response`: Basic, or a bearer
    token bought from the realm the registry named (the token dance), for the client's scope."""
    scheme, params = challenge(response.headers.get("WWW-Authenticate", ""))
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
    return f"Bearer {token}"


def _refresh_token_grant(
    client: RegistryClient, realm: str, query: dict[str, str | list[str]], token: Secret
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


def refused(client: RegistryClient, status: int = 401, *, why: str = "") -> ImageError:
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

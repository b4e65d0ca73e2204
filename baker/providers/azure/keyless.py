"""Keyless credentials: azure-identity's own, built from a credential's `auth:` and the token source
the manifest found offline (`baker.manifest.token_sources`; the kinds in `baker.model`).

- workload identity: `ClientAssertionCredential` with a function that hands Entra the federated token
  from GitHub Actions (fetched here, kept while fresh, fetched again as it nears its `exp`), a token
  file (re-read at every sign-in: AKS rotates it; `WorkloadIdentityCredential` would keep it for ten
  minutes and hide it from the Redactor) or a variable; `AzurePipelinesCredential` for Azure Pipelines
  (azure-identity asks the OIDC endpoint itself, at the URL in `os.environ`: a sign-in is refused
  when that is not the URL baker checked; a response hook registers the token it got);
- `ManagedIdentityCredential` (the endpoint azure-identity picks from the environment);
- `AzureCliCredential` (`az account get-access-token`).

Every token seen (request tokens, federated tokens, access tokens) is registered with the Redactor
before it is used.  The GitHub request goes through the provider's own `requests` session's settings
(the same CA rules as every other call: REQUESTS_CA_BUNDLE) to its URL as `baker.urls` read and
`baker.loopback` checked it, never follows a redirect (the Authorization header would go with it),
ends by `ANSWER_DEADLINE` whatever the endpoint does (the registry client's `Deadline`: a watchdog
shuts the fetch's sockets, so a dripped answer, headers or body, is cut too), and a refusal is
reported by its status alone (never a body).
"""

from __future__ import annotations

import collections
import copy
import json
import math
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import requests
import urllib3.exceptions
from azure.core.exceptions import AzureError
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import (
    AzureCliCredential,
    AzurePipelinesCredential,
    ClientAssertionCredential,
    CredentialUnavailableError,
    ManagedIdentityCredential,
)

from baker import loopback, model, urls
from baker.deadline import Deadline
from baker.image.registry.transport import TrackingAdapter, shown_origin
from baker.model import CredentialSpec
from baker.proxies import baker_session
from baker.secret import REDACTOR, Secret

# Response fields that carry tokens: Entra's and the managed identity endpoint's access (and
# refresh) tokens, Azure Pipelines' OIDC token, GitHub's ID token.
_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token", "oidcToken", "value")
_CONNECT_TIMEOUT = 10.0
_AZ_TIMEOUT = 60
# Fetch a GitHub token again when less than this much of its life is left (or half its life, for
# a short-lived one): a sign-in must never present a token that expires on the way.
_REFRESH_MARGIN = 60.0
TOKEN_MAX = model.FEDERATED_TOKEN_MAX
# The GitHub answer wraps the token in a little JSON.
_ANSWER_MAX = TOKEN_MAX + 4096
ANSWER_DEADLINE = 60.0  # seconds for the whole fetch, headers and body; tests make it small
# The latest `exp` / `iat` taken at its word (the end of year 9999): past it, or not a finite
# number, the token has no usable expiry and is fetched again at every sign-in.
_LATEST = 253402300799.0


class FederatedTokenError(CredentialUnavailableError):
    """The token source is present but gave no token (a refusal, an unreadable file)."""

    def __init__(self, message: str, *, evidence: str) -> None:
        super().__init__(message=message)
        self.evidence = evidence


class PresentedToken:
    """The federated token last handed to Entra: its claims (issuer, subject, audience; not secrets)
    explain a refusal."""

    def __init__(self) -> None:
        self.value: str | None = None

    def claims(self) -> dict[str, Any]:
        return claims_of(self.value) if self.value else {}


def claims_of(token: str) -> dict[str, Any]:
    """The token's claims, read WITHOUT verifying it (Entra verifies; this only explains)."""
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims


def _time_claim(value: Any) -> float | None:
    """A JWT time claim (`exp`, `iat`) as seconds since the epoch, or None when it is not a finite
    number in years 1970..9999 (a hostile token's NaN, Infinity or 400-digit integer)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and 0.0 <= seconds <= _LATEST else None


def too_big(what: str, size: int | None) -> FederatedTokenError:
    """An oversized federated token (`size`: its length, None when it was not read whole)."""
    return FederatedTokenError(
        f"{what} is {size if size is not None else f'more than {TOKEN_MAX}'} bytes; a federated token "
        f"is a JWT of a few KiB (baker refuses more than {TOKEN_MAX} bytes)",
        evidence="token size",
    )


def register_tokens(response: PipelineResponse[Any, Any]) -> dict[str, Any] | None:
    """azure-core's `raw_response_hook`: mask every token an identity answer carries (the JSON body
    is returned for a caller that wants more of it)."""
    http = response.http_response
    if "json" not in (http.headers.get("content-type") or "").lower():
        return None
    try:
        body = json.loads(http.text())
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    oidc_token = body.get("oidcToken")
    if isinstance(oidc_token, str) and len(oidc_token) > TOKEN_MAX:  # before the Redactor learns it
        raise too_big("the OIDC token Azure Pipelines answered", len(oidc_token))
    for field in _TOKEN_FIELDS:
        if isinstance(body.get(field), str):
            REDACTOR.register(body[field], label=f"token ({field})")
    return body


class GitHubTokens:
    """GitHub Actions' ID tokens for one job and audience, shared by every credential that uses them."""

    def __init__(
        self, url: str, request_token: Secret, audience: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._url = f"{url}{'&' if '?' in url else '?'}audience={quote(audience, safe='')}"
        self._request_token = request_token
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    def get(self, session: requests.Session) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, self._refresh_at = self._fetch(session)
            return self._token

    def _fetch(self, session: requests.Session) -> tuple[str, float]:
        where = "GitHub Actions' ID token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)"
        refusal = loopback.refusal(
            "ACTIONS_ID_TOKEN_REQUEST_URL", self._url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
        )
        if refusal is not None:  # the manifest refuses it already; this guards the Python API
            raise FederatedTokenError(refusal, evidence="plain http")
        try:
            target = urls.target(self._url)  # read as the refusal above read it; urllib3 reads it so too
        except urls.UrlError as exc:
            raise FederatedTokenError(
                f"ACTIONS_ID_TOKEN_REQUEST_URL is not a URL baker reads one way only ({exc.reason}): "
                "baker never sends ACTIONS_ID_TOKEN_REQUEST_TOKEN to it",
                evidence="plain http",
            ) from None
        fetched_at = self._clock()
        deadline = Deadline(ANSWER_DEADLINE)
        bounded = _bounded(session, deadline)
        try:
            try:
                response = bounded.get(
                    target.text,
                    headers={
                        "Authorization": f"bearer {self._request_token.reveal()}",
                        "Accept": "application/json",
                    },
                    timeout=(min(_CONNECT_TIMEOUT, deadline.left()), deadline.left()),
                    allow_redirects=False,
                    stream=True,
                )
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                if deadline.passed:
                    raise _too_slow(where) from None
                raise FederatedTokenError(
                    f"cannot reach {where}: {type(exc).__name__}", evidence="connection"
                ) from None
            self.fetches += 1
            with response:
                if deadline.expired:  # cut mid-headers: what came is not the answer
                    raise _too_slow(where)
                if response.status_code != 200:
                    raise FederatedTokenError(
                        f"{where} answered {response.status_code} (is `permissions: id-token: write` set, "
                        "and ACTIONS_ID_TOKEN_REQUEST_TOKEN this job's?)",
                        evidence=str(response.status_code),
                    )
                raw = _read_answer(response, where, deadline)
        finally:
            deadline.cancel()
            bounded.close()
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        token = body.get("value") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise FederatedTokenError(f"{where} answered without a token", evidence="no value")
        if len(token) > TOKEN_MAX:
            raise too_big(f"the ID token {where} answered", len(token))
        REDACTOR.register(token, label="GitHub Actions ID token")
        claims = claims_of(token)
        exp = _time_claim(claims.get("exp"))
        if exp is None:
            return token, fetched_at  # no expiry to go by: fetched again at every sign-in
        issued = _time_claim(claims.get("iat"))
        margin = min(_REFRESH_MARGIN, max(0.0, (exp - (fetched_at if issued is None else issued)) / 2))
        return token, exp - margin


def _bounded(session: requests.Session, deadline: Deadline) -> requests.Session:
    """The provider's session for one fetch: its settings (CA bundle, proxies, client certificate),
    its own adapter, whose sockets `deadline` shuts down when it comes.  A shallow copy: the
    provider's session, shared with the SDK's threads, is never changed."""
    bounded = copy.copy(session)
    bounded.adapters = collections.OrderedDict()
    adapter = TrackingAdapter(deadline.sockets)
    bounded.mount("https://", adapter)
    bounded.mount("http://", adapter)
    return baker_session(bounded)


def _on_service_fabric() -> bool:
    """azure-identity's own test for Service Fabric's managed identity (it reads os.environ)."""
    names = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT")
    return all(os.environ.get(name) for name in names)


class DeadlinedCredential:
    """A credential whose token requests each end by ANSWER_DEADLINE, cut from outside: for
    Service Fabric's managed identity, whose request MSAL sends on a session of its own, derived
    from baker's but with no timeout and past `BoundedTransport` (rt7-2: an endpoint that never
    answered held baker without end).  The request runs on a daemon thread; when the deadline
    passes first it is left there (it holds no value baker waits for) and the sign-in fails.  The
    token it returns is taught to the Redactor here: `register_tokens` never sees it (rt8-3)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def _bounded(self, call: Callable[[], Any]) -> Any:
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = call()
            except BaseException as exc:  # handed to the caller below
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="baker-managed-identity", daemon=True)
        worker.start()
        worker.join(ANSWER_DEADLINE)
        if worker.is_alive():
            raise CredentialUnavailableError(
                "the managed identity endpoint (Service Fabric) took more than "
                f"{ANSWER_DEADLINE:g} s to answer"
            )
        if "error" in outcome:
            raise outcome["error"]
        token = getattr(outcome["value"], "token", None)
        if isinstance(token, str):  # azure-identity ignores `raw_response_hook` on this path (rt8-3)
            REDACTOR.register(token, label="an access token")
        return outcome["value"]

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._bounded(lambda: self._inner.get_token(*scopes, **kwargs))

    def get_token_info(self, *scopes: str, **kwargs: Any) -> Any:
        return self._bounded(lambda: self._inner.get_token_info(*scopes, **kwargs))

    def close(self) -> None:
        self._inner.close()


def managed_identity_session(session: requests.Session) -> requests.Session:
    """A copy of `session` for the managed identity endpoints, which never redirect: requests
    follows no redirect (`max_redirects = 0`: a 3xx is an error, even to a request that would not
    follow it).  azure-identity hands Service Fabric's to MSAL, which derives a plain requests
    session from it, copying the bound (rt6-4: it followed a redirect with the identity header,
    reading `~/.netrc` for the new host).  (`trust_env` stays: the emulator's and a runner's CA
    bundle come through it; rt7-6, a loopback Service Fabric endpoint reached through HTTPS_PROXY,
    stays open: its pinned certificate keeps the identity header from the proxy.)"""
    copied = copy.copy(session)
    copied.max_redirects = 0
    return copied


class BoundedTransport(RequestsTransport):  # type: ignore[misc]  # azure-core is untyped here
    """The transport of azure-identity's own keyless requests (Azure Pipelines' OIDC endpoint and
    the Entra exchange after it, a managed identity endpoint): each request, headers and body, ends
    by `ANSWER_DEADLINE` whatever the endpoint does, as the GitHub fetch does (its own sockets, shut
    by a watchdog: a read timeout bounds one read, and a drip never lets one time out).  A request
    cut so is a `ClientAuthenticationError`, which azure-core's retry policy never retries (rt3-7:
    a dripping endpoint held a run 48 s, four times over).  The provider's session is copied per
    request (`_bounded`), never changed."""

    def __init__(self, session: requests.Session, *, federated: str = "") -> None:
        """`federated`: the URL (its query aside) whose answer is the federated token (its failure
        says so)."""
        super().__init__(session=session, session_owner=False, connection_timeout=_CONNECT_TIMEOUT)
        self._federated = federated

    def send(self, request: Any, **kwargs: Any) -> Any:
        deadline = Deadline(ANSWER_DEADLINE)
        bounded = _bounded(self.session, deadline)
        one = RequestsTransport(
            session=bounded,
            session_owner=False,
            connection_timeout=min(_CONNECT_TIMEOUT, ANSWER_DEADLINE),
            read_timeout=ANSWER_DEADLINE,
        )
        try:
            response = one.send(request, **kwargs)
            if deadline.expired:  # cut mid-answer: what came is not the answer
                raise self._too_slow(request.url)
            return response
        except AzureError:
            if deadline.passed:
                raise self._too_slow(request.url) from None
            raise
        finally:
            deadline.cancel()
            if not kwargs.get("stream"):
                bounded.close()

    def _too_slow(self, url: str) -> CredentialUnavailableError:
        if self._federated and url.partition("?")[0] == self._federated.partition("?")[0]:
            return _too_slow("Azure Pipelines' OIDC endpoint (SYSTEM_OIDCREQUESTURI)")
        return CredentialUnavailableError(
            f"the token endpoint {shown_origin(url)} took more than {ANSWER_DEADLINE:g} s to answer"
        )


def _too_slow(where: str) -> FederatedTokenError:
    return FederatedTokenError(f"{where} took more than {ANSWER_DEADLINE:g} s to answer", evidence="timeout")


def _read_answer(response: requests.Response, where: str, deadline: Deadline) -> bytes:
    """The answer's body, at most `_ANSWER_MAX` bytes, by the fetch's `deadline` (a huge or
    dripping answer is refused, never read whole: the deadline cuts a read in progress)."""
    body = bytearray()
    try:
        for chunk in response.iter_content(chunk_size=16384):
            body += chunk
            if len(body) > _ANSWER_MAX:
                raise too_big(f"the answer of {where}", None)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if deadline.passed:
            raise _too_slow(where) from None
        raise FederatedTokenError(
            f"cannot read the answer of {where}: {type(exc).__name__}", evidence="connection"
        ) from None
    if deadline.expired:  # cut short: what came is not the answer
        raise _too_slow(where)
    return bytes(body)


_GITHUB: dict[tuple[str, str, str], GitHubTokens] = {}
_GITHUB_LOCK = threading.Lock()


def github_tokens(url: str, request_token: Secret, audience: str) -> GitHubTokens:
    """The process's one `GitHubTokens` for this job and audience."""
    key = (url, request_token.reveal(), audience)
    with _GITHUB_LOCK:
        if key not in _GITHUB:
            _GITHUB[key] = GitHubTokens(url, request_token, audience)
        return _GITHUB[key]


def _read_file(path: str) -> str:
    """The token file's token: a regular file (checked before it is opened, and again once open, so
    a FIFO swapped in never blocks), at most `TOKEN_MAX` bytes (never read whole beyond that)."""
    try:
        mode = Path(path).stat().st_mode
        if not stat.S_ISREG(mode):
            raise FederatedTokenError(
                f"the token file {path} is not a regular file ({stat.filemode(mode)})",
                evidence="token file",
            )
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as file:
            opened = os.fstat(file.fileno())
            if not stat.S_ISREG(opened.st_mode):
                raise FederatedTokenError(
                    f"the token file {path} is not a regular file", evidence="token file"
                )
            data = file.read(TOKEN_MAX + 1)
        if len(data) > TOKEN_MAX:
            raise too_big(f"the token file {path}", max(opened.st_size, len(data)))
        token = data.decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise FederatedTokenError(
            f"cannot read the token file {path}: {reason}", evidence="token file"
        ) from None
    if not token:
        raise FederatedTokenError(f"the token file {path} is empty", evidence="token file")
    REDACTOR.register(token, label=f"token file {path}")
    return token


def assertion_func(
    credential: CredentialSpec, session: requests.Session, presented: PresentedToken
) -> Callable[[], str]:
    """What `ClientAssertionCredential` calls at each sign-in: the federated token, from the source."""
    source = credential.auth.source
    assert source is not None and source.kind != model.AZURE_PIPELINES

    def fetch() -> str:
        if source.kind == model.FILE:
            assert source.path is not None
            token = _read_file(source.path)
        elif source.kind == model.GITHUB:
            assert source.request_url is not None and source.request_token is not None
            token = github_tokens(source.request_url, source.request_token, credential.auth.audience).get(
                session
            )
        else:
            assert source.token is not None
            token = source.token.reveal()
            if len(token) > TOKEN_MAX:
                raise too_big(f"the federated token ({source.where})", len(token))
            REDACTOR.register(token, label="federated token")
        presented.value = token
        return token

    return fetch


PIPELINES_URL_VAR = "SYSTEM_OIDCREQUESTURI"  # azure-identity's name for it, read from os.environ


class CheckedPipelinesCredential(AzurePipelinesCredential):
    """`AzurePipelinesCredential`, which reads SYSTEM_OIDCREQUESTURI from `os.environ` itself at
    each sign-in (`build_oidc_request`, no parameter for it), sending SYSTEM_ACCESSTOKEN there.
    The URL baker checked (`loopback.refusal`, at load and at open) is the one in the environment
    the manifest was read with, which the Python API may give as a mapping: a sign-in is refused,
    before any request, when the process environment's value is not that URL.  Never quotes
    either URL."""

    def __init__(self, *, checked_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._checked_url = checked_url

    def _same_url(self) -> None:
        if os.environ.get(PIPELINES_URL_VAR) != self._checked_url:
            what = "is unset, not" if PIPELINES_URL_VAR not in os.environ else "is not"
            raise FederatedTokenError(
                f"{PIPELINES_URL_VAR} in the process environment, which azure-identity sends "
                f"SYSTEM_ACCESSTOKEN to, {what} the URL baker checked (in the environment the manifest "
                "was loaded with): baker never sends SYSTEM_ACCESSTOKEN to a URL it did not check (load "
                "the manifest with the process environment, or set the same value in both)",
                evidence="the environment",
            )

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self._same_url()
        return super().get_token(*scopes, **kwargs)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        self._same_url()
        return super().get_token_info(*scopes, options=options)


def keyless_identity(
    credential: CredentialSpec,
    *,
    session: requests.Session,
    identity_kwargs: dict[str, Any],
    presented: PresentedToken,
) -> Any:
    """The azure-identity credential for a credential whose `auth` is not client-secret.

    `identity_kwargs` are the client-secret path's (transport, authority, instance discovery)."""
    auth = credential.auth
    if auth.kind == model.MANAGED_IDENTITY:
        managed = ManagedIdentityCredential(
            client_id=credential.client_id,
            transport=BoundedTransport(managed_identity_session(session)),
            raw_response_hook=register_tokens,
        )
        return DeadlinedCredential(managed) if _on_service_fabric() else managed
    if auth.kind == model.AZURE_CLI:
        # az takes seconds to start (more on a busy runner): azure-identity's 10 s default is tight.
        if credential.tenant_id:
            return AzureCliCredential(tenant_id=credential.tenant_id, process_timeout=_AZ_TIMEOUT)
        return AzureCliCredential(additionally_allowed_tenants=["*"], process_timeout=_AZ_TIMEOUT)
    assert credential.tenant_id and credential.client_id and auth.source is not None
    if auth.source.kind == model.AZURE_PIPELINES:
        assert auth.source.request_token is not None and auth.service_connection_id is not None

        def hook(response: PipelineResponse[Any, Any]) -> None:
            body = register_tokens(response)
            if body is not None and isinstance(body.get("oidcToken"), str):
                presented.value = body["oidcToken"]

        return CheckedPipelinesCredential(
            checked_url=auth.source.request_url or "",
            tenant_id=credential.tenant_id,
            client_id=credential.client_id,
            service_connection_id=auth.service_connection_id,
            system_access_token=auth.source.request_token.reveal(),
            raw_response_hook=hook,
            **{
                **identity_kwargs,
                "transport": BoundedTransport(session, federated=auth.source.request_url or ""),
            },
        )
    return ClientAssertionCredential(
        credential.tenant_id,
        credential.client_id,
        assertion_func(credential, session, presented),
        raw_response_hook=register_tokens,
        **identity_kwargs,
    )

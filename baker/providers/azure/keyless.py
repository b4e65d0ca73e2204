"""Keyless credentials: azure-identity's own, built from a credential's `auth:` and the token source
the manifest found offline (`baker.manifest.token_sources`; the kinds in `baker.model`).

- workload identity: `ClientAssertionCredential` with a function that hands Entra the federated token
  from GitHub Actions (fetched here, kept while fresh, fetched again as it nears its `exp`), a token
  file (re-read at every sign-in: AKS rotates it; `WorkloadIdentityCredential` would keep it for ten
  minutes and hide it from the Redactor) or a variable; `AzurePipelinesCredential` for Azure Pipelines
  (azure-identity asks the OIDC endpoint itself; a response hook registers the token it got);
- `ManagedIdentityCredential` (the endpoint azure-identity picks from the environment);
- `AzureCliCredential` (`az account get-access-token`).

Every token seen (request tokens, federated tokens, access tokens) is registered with the Redactor
before it is used.  The GitHub request goes through the provider's own `requests` session (the same
CA rules as every other call: REQUESTS_CA_BUNDLE), never follows a redirect (the Authorization header
would go with it), and a refusal is reported by its status alone (never a body).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import requests
from azure.core.pipeline import PipelineResponse
from azure.identity import (
    AzureCliCredential,
    AzurePipelinesCredential,
    ClientAssertionCredential,
    CredentialUnavailableError,
    ManagedIdentityCredential,
)

from baker import model
from baker.model import CredentialSpec
from baker.secret import REDACTOR, Secret

# Response fields that carry tokens: Entra's and the managed identity endpoint's access (and
# refresh) tokens, Azure Pipelines' OIDC token, GitHub's ID token.
_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token", "oidcToken", "value")
_GITHUB_TIMEOUT = (10.0, 30.0)
_AZ_TIMEOUT = 60
# Fetch a GitHub token again when less than this much of its life is left (or half its life, for
# a short-lived one): a sign-in must never present a token that expires on the way.
_REFRESH_MARGIN = 60.0


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
        fetched_at = self._clock()
        try:
            response = session.get(
                self._url,
                headers={
                    "Authorization": f"bearer {self._request_token.reveal()}",
                    "Accept": "application/json",
                },
                timeout=_GITHUB_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise FederatedTokenError(
                f"cannot reach {where}: {type(exc).__name__}", evidence="connection"
            ) from None
        self.fetches += 1
        with response:
            if response.status_code != 200:
                raise FederatedTokenError(
                    f"{where} answered {response.status_code} (is `permissions: id-token: write` set, and "
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN this job's?)",
                    evidence=str(response.status_code),
                )
            try:
                token = response.json().get("value")
            except ValueError:
                token = None
        if not isinstance(token, str) or not token:
            raise FederatedTokenError(f"{where} answered without a token", evidence="no value")
        REDACTOR.register(token, label="GitHub Actions ID token")
        claims = claims_of(token)
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            return token, fetched_at  # no expiry to go by: fetched again at every sign-in
        iat = claims.get("iat")
        issued = float(iat) if isinstance(iat, int | float) else fetched_at
        margin = min(_REFRESH_MARGIN, max(0.0, (float(exp) - issued) / 2))
        return token, float(exp) - margin


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
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
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
            REDACTOR.register(token, label="federated token")
        presented.value = token
        return token

    return fetch


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
        return ManagedIdentityCredential(
            client_id=credential.client_id,
            transport=identity_kwargs["transport"],
            raw_response_hook=register_tokens,
        )
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

        return AzurePipelinesCredential(
            tenant_id=credential.tenant_id,
            client_id=credential.client_id,
            service_connection_id=auth.service_connection_id,
            system_access_token=auth.source.request_token.reveal(),
            raw_response_hook=hook,
            **identity_kwargs,
        )
    return ClientAssertionCredential(
        credential.tenant_id,
        credential.client_id,
        assertion_func(credential, session, presented),
        raw_response_hook=register_tokens,
        **identity_kwargs,
    )

"""Keyless sign-in failures, read: which diagnosis, what to add to the message, which fix.

- A token source that gave nothing (GitHub's or Azure Pipelines' endpoint refused, an unreadable
  token file): `no-federated-token`, with the endpoint's status (never its body).
- AADSTS70021 / 700211 / 700212 / 700213 (`federated-identity-mismatch`) and 700024
  (`federated-token-expired`), classified by `classify`: the message names the issuer, subject
  and audience the token presented, read from its claims WITHOUT verifying it (Entra's split codes
  name only the value that failed); the fix is the `az ad app federated-credential create` command
  that would match it.  A GitHub token whose subject did not match (70021, 700213) also gets the
  same subject in GitHub's other form: a credential written `repo:OWNER/REPO:...` never matches a
  token presenting the immutable `repo:OWNER@OWNER_ID/REPO@REPO_ID:...` (GitHub's default for
  repositories created after 2026-07-15), nor the other way round, and Entra's answer reads like a
  permissions problem.
- `auth: managed-identity`: a sign-in failure that is not Entra's is `managed-identity-unavailable`
  (no endpoint answers, or it refused the identity).
- `auth: azure-cli`: a sign-in failure (az missing, not logged in, its session expired) is
  `azure-cli-not-signed-in`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
from typing import Any

from azure.core.exceptions import HttpResponseError

from baker import loopback, model
from baker.diagnose import Diagnosis, fix_for
from baker.errors import ProviderError
from baker.model import CredentialSpec
from baker.output import untrusted
from baker.providers.azure.evidence import Evidence, cause_of
from baker.providers.azure.keyless import FederatedTokenError, PresentedToken
from baker.record import Record

_SIGN_IN_KINDS = {"auth", "authority", "other"}
# A claim shown in a message is cut here (Entra's own limit for a federated credential's subject).
CLAIM_MAX = 600
_CUT = "…(cut)"
# GitHub's two subject forms (docs/AZURE-WIRE.md), and the Entra codes where the subject may be at fault.
_GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
_GITHUB_IMMUTABLE = re.compile(r"repo:([^/@:]+)@([0-9]+)/([^/@:]+)@([0-9]+):(.+)", re.DOTALL)
_GITHUB_PLAIN = re.compile(r"repo:([^/@:]+)/([^/@:]+):(.+)", re.DOTALL)
_SUBJECT_CODES = {70021, 700213}


class KeylessFailure(Record):
    diagnosis: Diagnosis
    message: str  # the whole message, or "" to keep the provider's
    detail: str  # appended to the provider's message
    evidence: str | None
    hint: str | None


def _pipelines_refusal(credential: CredentialSpec, exc: BaseException) -> HttpResponseError | None:
    source = credential.auth.source
    if source is None or source.kind != model.AZURE_PIPELINES or not isinstance(exc, HttpResponseError):
        return None
    response = exc.response
    url = str(getattr(getattr(response, "request", None), "url", "") or "")
    base = (source.request_url or "").rstrip("/")
    return exc if base and url.startswith(base) else None


def _capped(claim: Any) -> str:
    """A claim (a token's, so an attacker's) as text of at most `CLAIM_MAX` characters."""
    text = claim if isinstance(claim, str) else json.dumps(claim, ensure_ascii=False, default=str)
    return text if len(text) <= CLAIM_MAX else text[:CLAIM_MAX] + _CUT


def _shown(claim: Any) -> str:
    """A claim fit to stand in a line: capped, every control character escaped (`untrusted`)."""
    if claim is None:
        return "(none)"
    if isinstance(claim, list):
        return untrusted(_capped(", ".join(_capped(c) for c in claim[:20])))
    return untrusted(_capped(claim))


def _create_command(client_id: str | None, claims: dict[str, Any]) -> str:
    """The `az` command that would trust what the token presented: each value capped, and every word
    `shlex.quote`d, so whatever a token's claims hold it pastes as one command and one only; the
    JSON is written with ASCII escapes, so no control character reaches the terminal."""
    audiences = claims.get("aud")
    audience_list = audiences[:20] if isinstance(audiences, list) else [audiences or model.DEFAULT_AUDIENCE]
    parameters = json.dumps(
        {
            "name": "baker",
            "issuer": _capped(claims.get("iss", "<issuer>")),
            "subject": _capped(claims.get("sub", "<subject>")),
            "audiences": [_capped(a) for a in audience_list],
        },
        separators=(",", ":"),
    )
    client = _capped(client_id or "<client-id>")
    return (
        f"az ad app federated-credential create --id {untrusted(shlex.quote(client))} "
        f"--parameters {untrusted(shlex.quote(parameters))}"
    )


def _github_id(claim: Any, placeholder: str) -> str:
    return claim if isinstance(claim, str) and claim.isascii() and claim.isdigit() else placeholder


def _github_subject_form(claims: dict[str, Any]) -> str | None:
    """For a GitHub token whose subject did not match: which of GitHub's two forms it presented, and
    the same subject in the other form, the one a federated credential may have been written in.
    Every claim shown escaped and capped (`_shown`); None when the subject is in neither form."""
    subject = claims.get("sub")
    if not isinstance(subject, str):
        return None
    immutable = _GITHUB_IMMUTABLE.fullmatch(subject)
    if immutable is not None:
        plain = f"repo:{immutable[1]}/{immutable[3]}:{immutable[5]}"
        return (
            f"The token's subject is in GitHub's immutable form ({_shown(subject)}); a federated credential "
            f"written in the plain form ({_shown(plain)}) does not match it.  GitHub presents the immutable "
            "form by default for repositories created after 2026-07-15 (`gh api "
            "repos/OWNER/REPO/actions/oidc/customization/sub` shows a repository's): write the "
            "credential's subject as the token presented it."
        )
    plain_match = _GITHUB_PLAIN.fullmatch(subject)
    if plain_match is None:
        return None
    owner_id = _github_id(claims.get("repository_owner_id"), "OWNER_ID")
    repository_id = _github_id(claims.get("repository_id"), "REPO_ID")
    other = f"repo:{plain_match[1]}@{owner_id}/{plain_match[2]}@{repository_id}:{plain_match[3]}"
    return (
        f"The token's subject is in GitHub's plain form ({_shown(subject)}); a federated credential "
        f"written in GitHub's immutable form ({_shown(other)}) does not match it: write the credential's "
        "subject as the token presented it, or have the repository present the immutable form (`gh api "
        "repos/OWNER/REPO/actions/oidc/customization/sub`)."
    )


def _valid_until(exp: Any) -> str | None:
    """`exp` as a UTC time, or None when it is not one (a hostile token's NaN, year 10000, ...)."""
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        moment = dt.datetime.fromtimestamp(float(exp), dt.timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def keyless_failure(
    credential: CredentialSpec,
    exc: BaseException,
    ev: Evidence,
    diagnosis: Diagnosis,
    presented: PresentedToken,
) -> KeylessFailure | None:
    """What a keyless credential's failure means, or None to leave the provider's reading as is."""
    auth = credential.auth
    if not auth.is_keyless:
        return None
    token_error = cause_of(exc, FederatedTokenError)
    if isinstance(token_error, FederatedTokenError):
        return KeylessFailure(
            Diagnosis.NO_FEDERATED_TOKEN,
            f"credential {credential.name!r} got no federated token: {token_error.message}",
            "",
            token_error.evidence,
            None,
        )
    refused = _pipelines_refusal(credential, exc)
    if refused is not None:
        return KeylessFailure(
            Diagnosis.NO_FEDERATED_TOKEN,
            f"credential {credential.name!r} got no federated token: Azure Pipelines' OIDC endpoint "
            f"(SYSTEM_OIDCREQUESTURI) answered {refused.status_code} (is SYSTEM_ACCESSTOKEN mapped into the "
            "step, and service_connection_id a workload-identity service connection?)",
            "",
            str(refused.status_code),
            None,
        )
    if diagnosis in (Diagnosis.FEDERATED_IDENTITY_MISMATCH, Diagnosis.FEDERATED_TOKEN_EXPIRED):
        claims = presented.claims()
        if not claims:
            return None
        detail = (
            f"; the token presented issuer {_shown(claims.get('iss'))}, subject {_shown(claims.get('sub'))}, "
            f"audience {_shown(claims.get('aud'))}"
        )
        expiry = _valid_until(claims.get("exp"))
        if expiry is not None:
            detail += f", valid until {expiry}"
        if auth.source is not None:
            detail += f" (from {auth.source.where})"
        hint = None
        if diagnosis is Diagnosis.FEDERATED_IDENTITY_MISMATCH:
            hint = (
                "Add a federated credential matching what the token presented (App registrations > "
                "your app > Certificates & secrets > Federated credentials > Add credential), or: "
                f"{_create_command(credential.client_id, claims)}\n"
            )
            from_github = (auth.source is not None and auth.source.kind == model.GITHUB) or claims.get(
                "iss"
            ) == _GITHUB_ISSUER
            form = _github_subject_form(claims) if from_github and ev.aadsts in _SUBJECT_CODES else None
            if form is not None:
                hint += form + "\n"
            hint += fix_for(diagnosis)
        return KeylessFailure(diagnosis, "", detail, None, hint)
    if diagnosis is not Diagnosis.AZURE_ERROR or ev.kind not in _SIGN_IN_KINDS:
        return None
    if auth.kind == model.MANAGED_IDENTITY:
        return KeylessFailure(
            Diagnosis.MANAGED_IDENTITY_UNAVAILABLE, "", f" (asked {auth.where})", None, None
        )
    if auth.kind == model.AZURE_CLI:
        return KeylessFailure(Diagnosis.AZURE_CLI_NOT_SIGNED_IN, "", "", None, None)
    return None


def keyless_incomplete(credential: CredentialSpec) -> ProviderError | None:
    """A workload-identity credential that cannot sign in, found before any network call (the
    manifest loader refuses these already; this guards the Python API)."""
    auth = credential.auth
    if auth.kind == model.MANAGED_IDENTITY:
        for var in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT"):  # what azure-identity reads
            url = os.environ.get(var)
            refusal = loopback.refusal(var, url, "the managed identity header") if url else None
            if refusal is not None:
                return ProviderError(
                    f"credential {credential.name!r}: {refusal}",
                    diagnosis=Diagnosis.MANAGED_IDENTITY_UNAVAILABLE,
                    evidence="the environment",
                    credential=credential.name,
                )
        return None
    if auth.kind != model.WORKLOAD_IDENTITY:
        return None
    if auth.source is not None and auth.source.kind == model.AZURE_PIPELINES and auth.source.request_url:
        refusal = loopback.refusal("SYSTEM_OIDCREQUESTURI", auth.source.request_url, "SYSTEM_ACCESSTOKEN")
        if refusal is not None:
            return ProviderError(
                f"credential {credential.name!r}: {refusal}",
                diagnosis=Diagnosis.NO_FEDERATED_TOKEN,
                evidence="the environment",
                credential=credential.name,
            )
    if auth.source is None:
        return ProviderError(
            f"credential {credential.name!r}: {auth.missing or 'no federated token'}",
            diagnosis=Diagnosis.NO_FEDERATED_TOKEN,
            evidence="the environment",
            credential=credential.name,
        )
    if not (credential.tenant_id and credential.client_id):
        missing = ", ".join(credential.unset_vars) or "tenant_id or client_id"
        return ProviderError(
            f"credential {credential.name!r} is incomplete: {missing} not set",
            diagnosis=Diagnosis.AZURE_ERROR,
            credential=credential.name,
            hint="Set the variables the credential names (or AZURE_TENANT_ID, AZURE_CLIENT_ID).",
        )
    return None

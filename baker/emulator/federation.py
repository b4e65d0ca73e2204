"""Entra's side of workload identity federation: is this client assertion a token the app trusts?

Checked in Entra's order: a JWT at all (AADSTS50027), an issuer the app has a federated credential
for (AADSTS700211; AADSTS70021 when the app has none at all), a valid signature from that issuer's
keys (AADSTS50013), the validity window (AADSTS700024), then subject (AADSTS700213) and audience
(AADSTS700212) among the credentials of that issuer.  Matching is exact and case-sensitive, as Entra's
has been since 2024.

Status and `error` per code, from recorded Entra answers (docs/AZURE-WIRE.md and public traces):
- AADSTS70021, the legacy combined code: 400 `invalid_request`.
- AADSTS700211/700212/700213 (the split codes Entra answers today) and AADSTS700024: `invalid_client`,
  which Entra sends with 401, as for a wrong client secret.
- AADSTS50027 (malformed) and AADSTS50013 (signature): 400 `invalid_request`.
azure-identity puts the description in its exception message whatever the status.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, NamedTuple

import jwt

from baker.emulator.oidc import InvalidToken, OidcIssuer
from baker.emulator.world import App

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_DOCS = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
_CHECK = (
    "Please check your federated identity credential Subject, Audience and Issuer against the presented "
    "assertion."
)
_CERT_DOCS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"
_SKEW = 300  # Entra tolerates five minutes of clock skew on nbf; exp is strict


class Refusal(NamedTuple):
    status: int
    error: str
    description: str  # starts with "AADSTSnnnn: "


class Accepted(NamedTuple):
    subject: str


def _fmt(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _malformed() -> Refusal:
    return Refusal(400, "invalid_request", "AADSTS50027: JWT token is invalid or malformed.")


class Federation:
    def __init__(self, issuer: OidcIssuer) -> None:
        self.issuer = issuer

    def check(self, app: App, assertion: str) -> Refusal | Accepted:
        try:
            header = jwt.get_unverified_header(assertion)
            claims: Any = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _malformed()
        if not isinstance(claims, dict) or header.get("alg") in {None, "none"}:
            return _malformed()
        iss, sub, aud = claims.get("iss"), claims.get("sub"), claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not (
            isinstance(iss, str)
            and isinstance(sub, str)
            and isinstance(audiences, list)
            and audiences
            and all(isinstance(a, str) for a in audiences)
            and isinstance(claims.get("exp"), int | float)
        ):
            return _malformed()

        trusted = [
            (self.issuer.canonical(f.issuer), f.subject, f.audience) for f in app.federated_credentials
        ]
        if not trusted:
            return Refusal(
                400,
                "invalid_request",
                "AADSTS70021: No matching federated identity record found for presented assertion. "
                f"Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: "
                f"'{','.join(audiences)}'. {_DOCS}",
            )
        of_issuer = [t for t in trusted if t[0] == iss]
        if not of_issuer:
            return Refusal(
                401,
                "invalid_client",
                f"AADSTS700211: No matching federated identity record found for presented assertion issuer "
                f"'{iss}'. {_CHECK} {_DOCS}",
            )
        if not self.issuer.owns(iss):
            # Entra would fetch that issuer's JWKS; the emulator only reaches loopback and its own keys.
            return Refusal(
                400,
                "invalid_request",
                "AADSTS50013: Assertion failed signature validation. [Reason - The key was not found. "
                f"The emulator can verify only tokens of its own issuer {self.issuer.origin}.]",
            )
        try:
            self.issuer.verify(assertion)
        except InvalidToken:
            return Refusal(
                400,
                "invalid_request",
                "AADSTS50013: Assertion failed signature validation. [Reason - The key was not found.]",
            )
        now = time.time()
        exp = float(claims["exp"])
        nbf = float(claims["nbf"]) if isinstance(claims.get("nbf"), int | float) else 0.0
        if now >= exp or now + _SKEW < nbf:
            return Refusal(
                401,
                "invalid_client",
                "AADSTS700024: Client assertion is not within its valid time range. Current time: "
                f"{_fmt(now)}, assertion valid from {_fmt(nbf)}, expiry time of assertion {_fmt(exp)}. "
                f"Review the documentation at {_CERT_DOCS} .",
            )
        of_subject = [t for t in of_issuer if t[1] == sub]
        if not of_subject:
            return Refusal(
                401,
                "invalid_client",
                f"AADSTS700213: No matching federated identity record found for presented assertion subject "
                f"'{sub}'. {_CHECK} {_DOCS}",
            )
        if not any(t[2] in audiences for t in of_subject):
            return Refusal(
                401,
                "invalid_client",
                f"AADSTS700212: No matching federated identity record found for presented assertion audience "
                f"'{','.join(audiences)}'. {_CHECK} {_DOCS}",
            )
        return Accepted(sub)

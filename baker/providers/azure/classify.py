"""Azure's evidence, as plain data, to a diagnosis: the AADSTS codes, Key Vault's error codes and the
words of MSAL and azure-identity that tell a cause.  Plain data in, so it is tested without the SDK;
`evidence.py` reads the SDK's exceptions into that data."""

from __future__ import annotations

from typing import Literal

from baker.diagnose import Diagnosis

# Where a failure happened: Entra refused or could not be asked for a token ("auth"), its OpenID
# configuration could not be read ("authority"), the vault could not be reached ("connection"),
# the vault answered an error status ("http"), anything else ("other").
FailureKind = Literal["auth", "authority", "connection", "http", "other"]

# Entra's AADSTS codes that name a cause of their own (see docs/AZURE-WIRE.md, "Entra error bodies").
_AADSTS: dict[int, Diagnosis] = {
    7000215: Diagnosis.INVALID_CLIENT_SECRET,
    7000222: Diagnosis.CLIENT_SECRET_EXPIRED,
    700016: Diagnosis.APP_NOT_FOUND,
    90002: Diagnosis.TENANT_NOT_FOUND,
    # Workload identity: no federated credential on the app (70021), or none matching the token's
    # issuer (700211), audience (700212) or subject (700213); the token past its exp (700024).
    70021: Diagnosis.FEDERATED_IDENTITY_MISMATCH,
    700211: Diagnosis.FEDERATED_IDENTITY_MISMATCH,
    700212: Diagnosis.FEDERATED_IDENTITY_MISMATCH,
    700213: Diagnosis.FEDERATED_IDENTITY_MISMATCH,
    700024: Diagnosis.FEDERATED_TOKEN_EXPIRED,
}

# Key Vault's inner error codes (the `innererror.code` of a 403/404 body), and the outer codes
# Key Vault uses when there is no inner one.
_VAULT_CODES: dict[str, Diagnosis] = {
    "forbiddenbyrbac": Diagnosis.MISSING_ROLE,
    "accessdenied": Diagnosis.LEGACY_ACCESS_POLICY,
    "secretdisabled": Diagnosis.SECRET_DISABLED,
    "secretnotfound": Diagnosis.SECRET_NOT_FOUND,
    # A vault firewall or private link refusing the caller's network: the vault is, for this
    # caller, unreachable; the fix (vault > Networking) is the same.
    "forbiddenbyfirewall": Diagnosis.VAULT_UNREACHABLE,
    "forbiddenbyconnection": Diagnosis.VAULT_UNREACHABLE,
    "throttled": Diagnosis.THROTTLED,
    # No vault of that name behind the host (what a wrong vault_url meets where DNS answers anyway).
    "vaultnotfound": Diagnosis.VAULT_UNREACHABLE,
}

# Words in a 403's message when the code alone does not tell (older API versions, proxies).
_ACCESS_POLICY_WORDS = ("access policy", "does not have secrets")
# MSAL's words when the tenant's OpenID configuration could not be read (an unknown tenant shows
# up this way, not as AADSTS90002: the discovery GET fails before any token request).
_NO_AUTHORITY_CONFIG = "unable to get authority configuration"
# azure-identity's words when the vault's challenge names a tenant other than the credential's: the
# credential's tenant ID is not the vault's (unknown, or another directory), so the same fix applies.
_OTHER_TENANT = "not configured to acquire tokens for tenant"


def classify(
    *,
    aadsts: int | None,
    status: int | None,
    error_code: str | None,
    inner_code: str | None,
    message: str,
    kind: FailureKind,
) -> Diagnosis:
    """The diagnosis for one Azure failure, from the evidence the provider extracted.

    `kind` says where the failure happened: "auth" (Entra refused or could not be asked for a
    token), "authority" (Entra's OpenID configuration could not be read), "connection" (the vault
    could not be reached), "http" (the vault answered with an error status).
    """
    if aadsts is not None and aadsts in _AADSTS:
        return _AADSTS[aadsts]
    lowered = message.lower()
    if kind in {"auth", "authority"}:
        if _NO_AUTHORITY_CONFIG in lowered or _OTHER_TENANT in lowered:
            return Diagnosis.TENANT_NOT_FOUND
        return Diagnosis.AZURE_ERROR
    if kind == "connection":
        return Diagnosis.VAULT_UNREACHABLE
    for code in (inner_code, error_code):
        if code and code.lower() in _VAULT_CODES:
            return _VAULT_CODES[code.lower()]
    if status == 429:
        return Diagnosis.THROTTLED
    if status == 404 and (error_code or "secret" in lowered):
        # A 404 without Key Vault's error body is some other server (a wrong vault_url).
        return Diagnosis.SECRET_NOT_FOUND
    if status == 403:
        if "disabled" in lowered:
            return Diagnosis.SECRET_DISABLED
        if any(words in lowered for words in _ACCESS_POLICY_WORDS):
            return Diagnosis.LEGACY_ACCESS_POLICY
        if "not authorized" in lowered or "rbac" in lowered:
            return Diagnosis.MISSING_ROLE
    return Diagnosis.AZURE_ERROR

"""Azure's evidence of a failure, read from the SDK's exceptions: the AADSTS code, the HTTP status,
Key Vault's error code and inner code, or the connection problem.  Plain data comes out, for
`classify.classify` and for the message (which the provider scrubs before it is shown).
"""

from __future__ import annotations

import re

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

from baker.providers.azure.classify import FailureKind
from baker.record import Record

_AADSTS_RE = re.compile(r"AADSTS(\d+)")
_OTHER_TENANT_RE = re.compile(r"not configured to acquire tokens for tenant ([0-9A-Za-z.-]+?)\.?(?:\s|$)")


class Evidence(Record):
    """What an exception tells: `text` goes to classify, `shown` into the message."""

    kind: FailureKind
    text: str
    shown: str
    evidence: str
    aadsts: int | None = None
    status: int | None = None
    code: str | None = None
    inner: str | None = None


def _first_line(text: str) -> str:
    """An AADSTS description's first line: the cause (trace and correlation ids follow)."""
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def cause_of(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in `exc`'s chain (`__cause__`, else `__context__`), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


_REASONS = (
    ("failed to resolve", "the host name does not resolve"),
    ("name or service not known", "the host name does not resolve"),
    ("nodename nor servname", "the host name does not resolve"),
    ("getaddrinfo", "the host name does not resolve"),
    ("connection refused", "the connection was refused"),
    ("certificate verify failed", "its TLS certificate is not trusted (check REQUESTS_CA_BUNDLE)"),
    ("timed out", "the connection timed out"),
)


def _connection_reason(exc: BaseException) -> str:
    """A short reason instead of urllib3's message (object reprs, pool details)."""
    text = str(exc).lower()
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return type(exc).__name__


def _vault_error(exc: HttpResponseError) -> tuple[str | None, str | None, str]:
    """(code, inner code, message) from Key Vault's error body."""
    code: str | None = None
    inner: str | None = None
    message = ""
    odata = exc.error
    if odata is not None:
        code = odata.code
        message = odata.message or ""
        innererror = odata.innererror or {}
        inner = innererror.get("code") if isinstance(innererror, dict) else None
    model_error = getattr(getattr(exc, "model", None), "error", None)
    if model_error is not None:
        code = code or getattr(model_error, "code", None)
        message = message or getattr(model_error, "message", None) or ""
        inner = inner or getattr(getattr(model_error, "inner_error", None), "code", None)
    if not message:
        message = exc.reason or f"HTTP {exc.status_code}"
    return code, inner, _first_line(message)


def evidence_of(exc: BaseException, *, tenant_id: str | None) -> Evidence:
    """What `exc` tells about the failure, as plain data for `classify.classify`."""
    if isinstance(exc, ClientAuthenticationError) and (
        exc.response is None or _AADSTS_RE.search(str(exc.message or ""))
    ):
        # Raised by the credential (Entra's answer, or azure-identity's own refusal): no status;
        # ClientAssertionCredential's carries Entra's response (and its AADSTS code) too.
        text = _first_line(str(exc.message or exc))
        found = _AADSTS_RE.search(text)
        aadsts = int(found.group(1)) if found else None
        kind: FailureKind = "authority" if "authority configuration" in text.lower() else "auth"
        shown = text.removeprefix("Authentication failed: ")
        unreachable = cause_of(exc, ServiceRequestError)
        if unreachable is not None:
            shown = f"cannot reach Microsoft Entra: {_connection_reason(unreachable)}"
        elif (other := _OTHER_TENANT_RE.search(text)) is not None:
            shown = (
                f"the vault belongs to tenant {other.group(1)}, but the credential's tenant_id is "
                f"{tenant_id} (azure-identity will not sign in to another tenant)"
            )
        if aadsts:
            evidence = f"AADSTS{aadsts}"
        elif unreachable:
            evidence = "connection"
        elif kind == "authority":
            # Entra answers an unknown tenant's OpenID discovery with 400 AADSTS90002; azure-identity
            # reports only "Unable to get authority configuration", so name the code it stands for.
            evidence = "AADSTS90002 (OpenID discovery failed)"
        else:
            evidence = "sign-in"
        return Evidence(kind, text if unreachable is None else shown, shown, evidence, aadsts=aadsts)
    if isinstance(exc, ServiceRequestError):
        reason = _connection_reason(exc)
        return Evidence("connection", reason, reason, reason)
    if isinstance(exc, HttpResponseError):
        code, inner, text = _vault_error(exc)
        evidence = " ".join(str(part) for part in (exc.status_code, code, inner) if part)
        return Evidence("http", text, text, evidence, status=exc.status_code, code=code, inner=inner)
    text = _first_line(str(getattr(exc, "message", None) or exc))
    return Evidence("other", text, text, type(exc).__name__)

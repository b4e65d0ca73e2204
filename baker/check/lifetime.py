"""A secret version's lifetime as people need to hear about it: expired, expiring soon, not valid
yet.  Key Vault still serves such a version (`exp` and `nbf` are informational), so these are
warnings, given wherever the metadata is at hand: test-connection, render, build."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from baker.providers.base import SecretProperties

EXPIRING_DAYS = 14


def as_utc(moment: datetime | None) -> datetime | None:
    """Key Vault's times are UTC; a naive datetime is read as UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def lifetime_warnings(
    label: str, props: SecretProperties, *, now: datetime | None = None, expiring_days: int = EXPIRING_DAYS
) -> list[str]:
    now = now or datetime.now(timezone.utc)
    expires, not_before = as_utc(props.expires_on), as_utc(props.not_before)
    warnings: list[str] = []
    if expires is not None and expires <= now:
        warnings.append(f"the secret {label} expired on {expires:%Y-%m-%d}; rotate it in Key Vault")
    elif expires is not None and expires <= now + timedelta(days=expiring_days):
        warnings.append(f"the secret {label} expires on {expires:%Y-%m-%d}; rotate it soon")
    if not_before is not None and not_before > now:
        warnings.append(f"the secret {label} is not valid before {not_before:%Y-%m-%d %H:%M} UTC")
    return warnings

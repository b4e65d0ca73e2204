from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from baker.check.lifetime import lifetime_warnings
from baker.providers.base import SecretProperties

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("expires", "not_before", "expected"),
    [
        (None, None, []),
        (NOW + timedelta(days=30), None, []),
        (NOW + timedelta(days=3), None, ["expires on 2026-11-29"]),
        (NOW - timedelta(days=1), None, ["expired on 2026-11-25"]),
        (None, NOW + timedelta(hours=2), ["not valid before 2026-11-26 14:00 UTC"]),
        (NOW - timedelta(days=1), NOW + timedelta(hours=2), ["expired on", "not valid before"]),
        # Key Vault's times are UTC: a naive datetime is read as UTC, never as local time
        ((NOW - timedelta(days=1)).replace(tzinfo=None), None, ["expired on 2026-11-25"]),
    ],
)
def test_lifetime_warnings_name_expired_expiring_and_not_yet_valid_versions(
    expires: datetime | None, not_before: datetime | None, expected: list[str]
) -> None:
    props = SecretProperties(name="api-key", version="v1", expires_on=expires, not_before=not_before)
    warnings = lifetime_warnings("api-key", props, now=NOW)
    assert len(warnings) == len(expected)
    for warning, fragment in zip(warnings, expected, strict=True):
        assert fragment in warning
        assert "api-key" in warning

"""JWT-shaped access tokens, HMAC-signed with a key made at start (never leaves the process).

Bound to tenant (`tid`), app (`appid`) and audience (`aud` = the resource the scope named), so the
vault can refuse a token for another tenant or another resource, as Key Vault does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

LIFETIME = 3599


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    key: bytes, *, issuer: str, tenant: str, app: str, audience: str, object_id: str | None = None
) -> str:
    """`object_id`: the principal's (a managed identity's); by default one derived from tenant and app."""
    now = int(time.time())
    oid = object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{app}"))
    header = {"typ": "JWT", "alg": "HS256", "kid": "baker-emulator"}
    claims = {
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME,
        "appid": app,
        "azp": app,
        "oid": oid,
        "sub": oid,
        "tid": tenant,
        "uti": uuid.uuid4().hex[:22],
        "ver": "1.0",
    }
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def verify(key: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a token this emulator signed and that has not expired; else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(parts[2])):
            return None
        claims: Any = json.loads(_unb64(parts[1]))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or int(claims.get("exp", 0)) <= time.time():
        return None
    return claims

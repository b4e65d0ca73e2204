"""The emulator's own OpenID Connect issuer (oidc.localhost): discovery, JWKS, and ID tokens.

Every URL under `https://oidc.localhost:PORT` is an issuer: the origin itself, `/github` (what the
GitHub Actions endpoint hands out), `/devops` (Azure Pipelines), or any path a test names.  Each serves
`{issuer}/.well-known/openid-configuration` and `{issuer}/.well-known/jwks`, all signed with one RS256
key made at start.  Entra (`federation.py`) verifies their tokens in-process, never over HTTP.

A world file may write the emulator's issuer without the port (`https://oidc.localhost/github`): the
port is not known before the server binds, so such an issuer means this emulator's, at its port.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from baker.emulator.http import Request, Response, json_response

HOST = "oidc.localhost"
GITHUB_PATH = "/github"
PIPELINES_PATH = "/devops"


class InvalidToken(Exception):
    """The token is not a JWT this issuer signed (malformed, other key, other algorithm)."""


class OidcIssuer:
    def __init__(self, port: int) -> None:
        self.origin = f"https://{HOST}:{port}"
        self._port = port
        self.kid = uuid.uuid4().hex[:16]
        self._made: tuple[rsa.RSAPrivateKey, dict[str, Any]] | None = None
        self._making = threading.Lock()

    @property
    def _key(self) -> rsa.RSAPrivateKey:
        return self._signing()[0]

    @property
    def _jwk(self) -> dict[str, Any]:
        return self._signing()[1]

    def _signing(self) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
        """The issuer's RS256 key and its JWK, made at first use (a 2048-bit RSA key costs ~60 ms of
        CPU, and most emulators never sign a federated token: the test suite starts hundreds)."""
        with self._making:
            if self._made is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                self._made = key, {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}
            return self._made

    # --- names ----------------------------------------------------------------------------------

    def issuer(self, path: str = "") -> str:
        """The issuer URL for `path` ("" = the origin; "/github", "/devops", ...)."""
        path = path.rstrip("/")
        if path and not path.startswith("/"):
            raise ValueError("an issuer path starts with '/'")
        return self.origin + path

    def canonical(self, issuer: str) -> str:
        """A world file's issuer as this emulator serves it (port-less oidc.localhost gets the port)."""
        parts = urllib.parse.urlsplit(issuer)
        if parts.hostname == HOST and parts.port is None:
            return urllib.parse.urlunsplit(parts._replace(netloc=f"{HOST}:{self._port}"))
        return issuer

    def owns(self, issuer: str) -> bool:
        return issuer == self.origin or issuer.startswith(self.origin + "/")

    # --- tokens ---------------------------------------------------------------------------------

    def mint(
        self,
        *,
        subject: str,
        audience: str | list[str],
        issuer: str | None = None,
        lifetime: float = 300.0,
        not_before: float | None = None,
        expires: float | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """An ID token.  `issuer`: a path under the origin, a full URL, or None for the origin.
        `not_before` / `expires` (unix seconds) override the default window now .. now + lifetime."""
        now = int(time.time())
        iss = self.issuer(issuer or "") if issuer is None or issuer.startswith("/") else issuer
        body: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "sub": subject,
            "aud": audience,
            "iss": iss,
            "iat": now,
            "nbf": int(not_before) if not_before is not None else now,
            "exp": int(expires) if expires is not None else now + max(1, int(lifetime)),
            **(claims or {}),
        }
        return jwt.encode(body, self._key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this issuer signed (RS256, our key id).  Time is not checked here:
        Entra reports the validity window with its own code (AADSTS700024)."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256" or header.get("kid") != self.kid:
                raise InvalidToken("not signed with this issuer's RS256 key")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_nbf": False, "verify_aud": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        return claims

    # --- HTTP -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        for suffix, answer in (
            ("/.well-known/openid-configuration", self._configuration),
            ("/.well-known/jwks", self._jwks),
        ):
            if path.endswith(suffix) and request.method == "GET":
                return answer(self.issuer(path.removesuffix(suffix)))
        return json_response(
            404, {"error": "not_found", "error_description": f"no such endpoint {request.path}"}
        )

    def _configuration(self, issuer: str) -> Response:
        # The fields GitHub's issuer publishes (token.actions.githubusercontent.com), for this issuer.
        return json_response(
            200,
            {
                "issuer": issuer,
                "jwks_uri": f"{issuer}/.well-known/jwks",
                "subject_types_supported": ["public", "pairwise"],
                "response_types_supported": ["id_token"],
                "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid"],
            },
        )

    def _jwks(self, issuer: str) -> Response:
        return json_response(200, {"keys": [self._jwk]})

"""The managed identity endpoint as App Service and Container Apps serve it (identity.localhost).

Wire shape from msal 1.39 `managed_identity.py` (`_obtain_token_on_app_service`), which azure-identity
1.27's `ManagedIdentityCredential` uses when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set:
`GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=R[&client_id=C|object_id=O|mi_res_id=..]` with
`X-IDENTITY-HEADER: $IDENTITY_HEADER` answers
`{"access_token", "expires_on": "<unix seconds, a string>", "resource", "token_type", "client_id"}`.
Failures answer `{"statusCode", "message", "correlationId"}`, which msal turns into
"(invalid_scope) <statusCode>, <message>".  Real App Service serves plain http on localhost; the emulator
serves everything over TLS, so clients trust its CA (REQUESTS_CA_BUNDLE) here as elsewhere.

The access token is the emulator's own (`tokens.py`), its `appid` the identity's client id, so vault
grants naming the identity (`identity: <client id>`) apply at Key Vault like an app's.
"""

from __future__ import annotations

import hmac
import secrets
import uuid

from baker.emulator import tokens
from baker.emulator.http import Request, Response, json_response
from baker.emulator.world import ManagedIdentity, World

HOST = "identity.localhost"
PATH = "/msi/token"
API_VERSION = "2019-08-01"
_NOT_FOUND = "Unable to load the proper Managed Identity."


def _error(status: int, message: str) -> Response:
    return json_response(
        status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    )


class IdentityEndpoint:
    def __init__(self, world: World, authority_host: str, signing_key: bytes, port: int) -> None:
        self._world = world
        self._authority = authority_host.rstrip("/")
        self._key = signing_key
        self.url = f"https://{HOST}:{port}{PATH}"
        self.header = secrets.token_urlsafe(24)  # the App Service platform's IDENTITY_HEADER

    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.header}

    def _find(self, request: Request) -> tuple[str, ManagedIdentity] | None:
        client_id = request.query.get("client_id")
        object_id = request.query.get("object_id") or request.query.get("principal_id")
        for tenant_id, tenant in self._world.tenants.items():
            for identity in tenant.managed_identities.values():
                if client_id is not None:
                    hit = identity.client_id.lower() == client_id.lower()
                elif object_id is not None:
                    hit = identity.object_id.lower() == object_id.lower()
                else:
                    hit = identity.system_assigned
                if hit:
                    return tenant_id, identity
        return None

    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") != PATH or request.method != "GET":
            return _error(404, f"No managed identity endpoint at {request.method} {request.path}.")
        presented = request.headers.get("x-identity-header", "")
        if not hmac.compare_digest(presented.encode(), self.header.encode()):
            return _error(401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
        if request.query.get("api-version") != API_VERSION:
            return _error(400, f"Unsupported api-version '{request.query.get('api-version', '')}'.")
        resource = request.query.get("resource", "")
        if not resource:
            return _error(400, "The request is missing the required 'resource' parameter.")
        if "mi_res_id" in request.query:
            return _error(400, _NOT_FOUND)  # the emulator's identities have no ARM resource id
        found = self._find(request)
        if found is None:
            return _error(400, _NOT_FOUND)
        tenant_id, identity = found
        token = tokens.issue(
            self._key,
            issuer=f"{self._authority}/{self._world.tenants[tenant_id].tenant_id}/v2.0",
            tenant=tenant_id,
            app=identity.client_id.lower(),
            audience=resource.rstrip("/"),
            object_id=identity.object_id,
        )
        claims = tokens.verify(self._key, token)
        expires_on = int(claims["exp"]) if claims else 0
        return json_response(
            200,
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            },
        )

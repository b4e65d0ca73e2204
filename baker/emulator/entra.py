"""Entra ID (login.localhost): OpenID discovery, instance discovery, and the v2.0 token endpoint
for the client-credentials grant, with Entra's own error bodies.

Wire shapes follow msal 1.39 (`authority.py`: `tenant_discovery`, `_instance_discovery`;
`oauth2cli/oauth2.py`: the token POST) and what login.microsoftonline.com answers.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import uuid
from typing import Any

from baker.emulator import tokens
from baker.emulator.federation import JWT_BEARER, Federation, Refusal
from baker.emulator.http import Request, Response, json_response
from baker.emulator.world import App, World

_NOT_FOUND_TENANT = (
    "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
    "signing into the correct cloud. Check with your subscription administrator, this may happen if there "
    "are no active subscriptions for the tenant."
)
_APP_NOT_FOUND = (
    "AADSTS700016: Application with identifier '{app}' was not found in the directory '{tenant}'. This can "
    "happen if the application has not been installed by the administrator of the tenant or consented to by "
    "any user in the tenant. You may have sent your authentication request to the wrong tenant."
)
_AADSTS7000215 = (
    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
    "client secret value, not the client secret ID, for a secret added to app '{app}'."
)
_AADSTS7000222 = (
    "AADSTS7000222: The provided client secret keys for app '{app}' are expired. Visit the Azure portal to "
    "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
    "credentials for added security: https://aka.ms/certCreds."
)
_AADSTS7000216 = (
    "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the "
    "'client_credentials' grant type."
)
_MISSING = "AADSTS900144: The request body must contain the following parameter: '{field}'."
_BAD_GRANT = "AADSTS70003: The app requested an unsupported grant type '{grant}'."
_BAD_SCOPE = (
    "AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a "
    "scope value with /.default suffixed to the resource identifier (application ID URI)."
)
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}


def entra_error(status: int, error: str, description: str, request: Request) -> Response:
    """An Entra error answer: AADSTS code first, then the Trace/Correlation/Timestamp tail."""
    code = int(description.split(":", 1)[0].removeprefix("AADSTS"))
    trace_id = str(uuid.uuid4())
    correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": (
            f"{description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return json_response(status, body, [("Cache-Control", "no-store, no-cache")])


class Entra:
    def __init__(
        self, world: World, authority_host: str, signing_key: bytes, federation: Federation | None = None
    ) -> None:
        self.world = world
        self.authority = authority_host.rstrip("/")
        self._key = signing_key
        self._federation = federation

    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if request.method == "GET" and lowered == ["common", "discovery", "instance"]:
            return self.instance_discovery(request)
        if request.method == "GET" and lowered[1:] in (["v2.0", ".well-known", "openid-configuration"],):
            return self.openid_configuration(request, parts[0])
        if request.method == "POST" and lowered[1:] == ["oauth2", "v2.0", "token"]:
            return self.token(request, parts[0])
        return json_response(
            404, {"error": "not_found", "error_description": f"no such endpoint {request.path}"}
        )

    def _tenant_ok(self, tenant: str) -> bool:
        return tenant.lower() in self.world.tenants

    def openid_configuration(self, request: Request, tenant: str) -> Response:
        if not self._tenant_ok(tenant):
            return entra_error(400, "invalid_tenant", _NOT_FOUND_TENANT.format(tenant=tenant), request)
        base = f"{self.authority}/{tenant}"
        document: dict[str, Any] = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{self.authority}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "oid"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        return json_response(200, document)

    def instance_discovery(self, request: Request) -> Response:
        # msal asks with ?authorization_endpoint=https://host/{tenant}/oauth2/v2.0/authorize&api-version=1.0
        endpoint = request.query.get("authorization_endpoint", "")
        path = endpoint.split("://", 1)[-1].split("/")
        tenant = path[1] if len(path) > 1 and path[1] else "common"
        host = self.authority.split("://", 1)[1]
        discovery = f"{self.authority}/{tenant}/v2.0/.well-known/openid-configuration"
        return json_response(
            200,
            {
                "tenant_discovery_endpoint": discovery,
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            },
        )

    def token(self, request: Request, tenant: str) -> Response:
        if not self._tenant_ok(tenant):
            # The token endpoint says invalid_request where OpenID discovery says invalid_tenant.
            return entra_error(400, "invalid_request", _NOT_FOUND_TENANT.format(tenant=tenant), request)
        form = request.form()
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
                client_id, client_secret = client_id or user, client_secret or password
            except (ValueError, UnicodeDecodeError):
                pass
        grant = form.get("grant_type", "")
        if not grant:
            return entra_error(400, "invalid_request", _MISSING.format(field="grant_type"), request)
        if grant != "client_credentials":
            return entra_error(400, "unsupported_grant_type", _BAD_GRANT.format(grant=grant), request)
        if not client_id:
            return entra_error(400, "invalid_request", _MISSING.format(field="client_id"), request)
        app = self.world.tenants[tenant.lower()].apps.get(client_id.lower())
        if app is None:
            text = _APP_NOT_FOUND.format(app=client_id, tenant=tenant)
            return entra_error(400, "unauthorized_client", text, request)
        if "client_assertion" in form or "client_assertion_type" in form:
            refused = self._check_assertion(app, form, request)
            if refused is not None:
                return refused
        elif not client_secret:
            return entra_error(401, "invalid_client", _AADSTS7000216, request)
        else:
            refused = self._check_secret(app, client_secret, request)
            if refused is not None:
                return refused
        scopes = [s for s in form.get("scope", "").split() if s not in _RESERVED_SCOPES]
        if not scopes:
            return entra_error(400, "invalid_request", _MISSING.format(field="scope"), request)
        if len(scopes) != 1 or not scopes[0].endswith("/.default") or "://" not in scopes[0]:
            return entra_error(400, "invalid_scope", _BAD_SCOPE.format(scope=" ".join(scopes)), request)
        audience = scopes[0].removesuffix("/.default")
        token = tokens.issue(
            self._key,
            issuer=f"{self.authority}/{self.world.tenants[tenant.lower()].tenant_id}/v2.0",
            tenant=self.world.tenants[tenant.lower()].tenant_id.lower(),
            app=app.client_id.lower(),
            audience=audience,
        )
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": tokens.LIFETIME,
                "ext_expires_in": tokens.LIFETIME,
                "access_token": token,
            },
            [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")],
        )

    def _check_secret(self, app: App, client_secret: str, request: Request) -> Response | None:
        matched = [s for s in app.secrets if hmac.compare_digest(s.value.encode(), client_secret.encode())]
        if not matched:
            return entra_error(401, "invalid_client", _AADSTS7000215.format(app=app.client_id), request)
        if all(s.expired for s in matched):
            return entra_error(401, "invalid_client", _AADSTS7000222.format(app=app.client_id), request)
        return None

    def _check_assertion(self, app: App, form: dict[str, str], request: Request) -> Response | None:
        """A federated credential's token (workload identity federation); see `federation`."""
        for field in ("client_assertion_type", "client_assertion"):
            if not form.get(field):
                return entra_error(400, "invalid_request", _MISSING.format(field=field), request)
        if form["client_assertion_type"] != JWT_BEARER:  # not a credential Entra knows: as if none was sent
            return entra_error(401, "invalid_client", _AADSTS7000216, request)
        if self._federation is None:
            return entra_error(
                400, "invalid_request", "AADSTS50027: JWT token is invalid or malformed.", request
            )
        verdict = self._federation.check(app, form["client_assertion"])
        if isinstance(verdict, Refusal):
            return entra_error(verdict.status, verdict.error, verdict.description, request)
        return None

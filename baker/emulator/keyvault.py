"""Key Vault's secrets REST API for one vault host: the bearer challenge, get, get by version, list
(paged with nextLink), list versions (by version id; an unknown secret's are an empty list), the
api-versions the SDK knows (any other is 400 BadParameter), and Key Vault's error bodies.

Wire shapes follow azure-keyvault-secrets 4.12 (`_shared/challenge_auth_policy.py`, `http_challenge.py`,
the generated client's paging) and what *.vault.azure.net answers.  Authorization follows the vault's
model: RBAC (vault-scope or per-secret role assignments) or legacy access policies.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from baker.emulator import tokens
from baker.emulator.http import Request, Response, json_response
from baker.emulator.store import Store, StoredVersion, UnknownSecret
from baker.emulator.world import SECRET_NAME, Vault, World

PAGE_SIZE = 25
# What azure-keyvault-secrets 4.12 knows (`_shared/client_base.ApiVersion`); Key Vault answers any
# other api-version with 400 BadParameter naming its latest.
API_VERSIONS = frozenset(
    {"2026-04-01", "2025-07-01", "7.6", "7.5", "7.4", "7.3", "7.2", "7.1", "7.0", "2016-10-01"}
)
LATEST_API_VERSION = "2026-04-01"
_RESOURCE_GROUP = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/baker-emulator"
_ACTIONS = {
    "get": "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "list": "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
}


def kv_error(status: int, code: str, message: str, inner: str | None = None, headers: Any = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return json_response(status, {"error": error}, headers)


def _unix(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


class KeyVault:
    def __init__(
        self, world: World, store: Store, signing_key: bytes, authority_host: str, port: int
    ) -> None:
        self.world = world
        self.store = store
        self._key = signing_key
        self.authority = authority_host.rstrip("/")
        self.resource = f"https://vault.localhost:{port}"

    # --- authentication -------------------------------------------------------------------------

    def challenge(self, vault: Vault, message: str) -> Response:
        header = f'Bearer authorization="{self.authority}/{vault.tenant}", resource="{self.resource}"'
        return kv_error(401, "Unauthorized", message, headers=[("WWW-Authenticate", header)])

    def _caller(self, request: Request, vault: Vault) -> dict[str, Any] | Response:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return self.challenge(vault, "AKV10000: Request is missing a Bearer or PoP token.")
        claims = tokens.verify(self._key, auth[7:].strip())
        if claims is None:
            return self.challenge(
                vault, "AKV10013: Token validation failed: the signature is invalid or expired."
            )
        if str(claims.get("aud", "")).rstrip("/") != self.resource:
            return self.challenge(
                vault, f"AKV10022: Invalid audience. Expected {self.resource}, found: {claims.get('aud')}."
            )
        if claims.get("tid") != vault.tenant:
            return self.challenge(
                vault,
                f"AKV10032: Invalid issuer. Expected one of {self.authority}/{vault.tenant}/v2.0, "
                f"found {claims.get('iss')}.",
            )
        return claims

    # --- authorization --------------------------------------------------------------------------

    def _refuse(self, vault: Vault, claims: dict[str, Any], action: str, name: str | None) -> Response | None:
        app = str(claims.get("appid", "")).lower()
        caller = f"appid={app};oid={claims.get('oid')};iss=https://sts.windows.net/{vault.tenant}/"
        grants = [g for g in vault.grants if g.app == app]
        if vault.model == "access-policy":
            if any(action in g.permissions for g in grants):
                return None
            return kv_error(
                403,
                "Forbidden",
                f"The user, group or application '{caller}' does not have secrets {action} permission on "
                f"key vault '{vault.name};location=westeurope'. For help resolving this issue, please see "
                "https://go.microsoft.com/fwlink/?linkid=2125287",
                "AccessDenied",
            )
        for grant in grants:
            # Key Vault Secrets User holds getSecret and readMetadata, so a per-secret assignment also lists
            # that secret's versions; listing the vault needs the role at vault scope.
            if grant.secrets is None or (name is not None and name.lower() in grant.secrets):
                return None
        resource = f"{_RESOURCE_GROUP}/providers/microsoft.keyvault/vaults/{vault.name}"
        if name is not None:
            resource += f"/secrets/{name.lower()}"
        return kv_error(
            403,
            "Forbidden",
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny "
            "assignments or role definitions were changed recently, please observe propagation time.\r\n"
            f"Caller: {caller}\r\nAction: '{_ACTIONS[action]}'\r\nResource: '{resource}'\r\n"
            "Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\n"
            f"Vault: {vault.name};location=westeurope\r\n",
            "ForbiddenByRbac",
        )

    # --- dispatch -------------------------------------------------------------------------------

    def handle(self, request: Request, vault: Vault) -> Response:
        caller = self._caller(request, vault)
        if isinstance(caller, Response):
            return caller
        if "api-version" not in request.query:
            return kv_error(400, "BadParameter", "The 'api-version' query parameter is missing.")
        if request.query["api-version"] not in API_VERSIONS:
            return kv_error(
                400,
                "BadParameter",
                f"The specified version ({request.query['api-version']}) is not recognized. Consider using "
                f"the latest supported version ({LATEST_API_VERSION}).",
            )
        parts = request.path.split("/")[1:]  # "/secrets/x/" -> ["secrets", "x", ""]
        if not parts or parts[0].lower() != "secrets":
            return kv_error(404, "NotFound", f"No resource at {request.path}.")
        if request.method != "GET":
            return kv_error(405, "MethodNotAllowed", f"The emulator serves only GET on {request.path}.")
        if len(parts) == 1 or (len(parts) == 2 and parts[1] == ""):
            return self.list_secrets(request, vault, caller)
        name = parts[1]
        if not SECRET_NAME.match(name):
            return kv_error(400, "BadParameter", f"The request URI contains an invalid name: {name}")
        rest = [p for p in parts[2:] if p]
        if len(rest) > 1:
            return kv_error(404, "NotFound", f"No resource at {request.path}.")
        if rest and rest[0].lower() == "versions":
            return self.list_versions(request, vault, caller, name)
        return self.get_secret(request, vault, caller, name, rest[0] if rest else None)

    def _base(self, request: Request) -> str:
        return f"https://{request.headers.get('host', request.host).lower()}"

    def _bundle(
        self, request: Request, name: str, v: StoredVersion, *, value: bool, versioned: bool
    ) -> dict[str, Any]:
        attributes: dict[str, Any] = {"enabled": v.enabled}
        if v.nbf is not None:
            attributes["nbf"] = _unix(v.nbf)
        if v.exp is not None:
            attributes["exp"] = _unix(v.exp)
        attributes.update(
            created=_unix(v.created),
            updated=_unix(v.updated),
            recoveryLevel="Recoverable+Purgeable",
            recoverableDays=90,
        )
        doc: dict[str, Any] = {}
        if value:
            doc["value"] = v.value
        doc["id"] = f"{self._base(request)}/secrets/{name}" + (f"/{v.version}" if versioned else "")
        if v.content_type is not None:
            doc["contentType"] = v.content_type
        if v.tags is not None:
            doc["tags"] = dict(v.tags)
        doc["attributes"] = attributes
        return doc

    def get_secret(
        self, request: Request, vault: Vault, caller: dict[str, Any], name: str, version: str | None
    ) -> Response:
        refused = self._refuse(vault, caller, "get", name)
        if refused is not None:
            return refused
        try:
            stored_name, v = self.store.get(vault.name, name, version)
        except UnknownSecret:
            shown = f"{name}/{version}" if version else name
            return kv_error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {shown} was not found in this key vault. If you recently "
                "deleted this secret you may be able to recover it using the correct recovery command. "
                "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
            )
        if not v.enabled:
            return kv_error(
                403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"
            )
        return json_response(200, self._bundle(request, stored_name, v, value=True, versioned=True))

    def _page(self, request: Request) -> tuple[int, str | None] | Response:
        raw = request.query.get("maxresults")
        size = PAGE_SIZE
        if raw is not None:
            if not raw.isdigit() or not 1 <= int(raw) <= PAGE_SIZE:
                return kv_error(
                    400, "BadParameter", f"Invalid maxresults '{raw}': it must be between 1 and 25."
                )
            size = int(raw)
        token = request.query.get("$skiptoken")
        if token is not None:
            try:
                token = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            except (ValueError, binascii.Error, UnicodeDecodeError):
                return kv_error(400, "BadParameter", "The $skiptoken is not valid.")
        return size, token

    def _paged(self, request: Request, path: str, items: list[tuple[str, dict[str, Any]]]) -> Response:
        """items: (sort key, document); the skiptoken is the last key of the page."""
        page = self._page(request)
        if isinstance(page, Response):
            return page
        size, after = page
        remaining = [doc for key, doc in items if after is None or key > after]
        keys = [key for key, _ in items if after is None or key > after]
        next_link = None
        if len(remaining) > size:
            token = base64.urlsafe_b64encode(keys[size - 1].encode()).decode().rstrip("=")
            api = request.query["api-version"]
            next_link = f"{self._base(request)}{path}?api-version={api}&$skiptoken={token}&maxresults={size}"
        return json_response(200, {"value": remaining[:size], "nextLink": next_link})

    def list_secrets(self, request: Request, vault: Vault, caller: dict[str, Any]) -> Response:
        refused = self._refuse(vault, caller, "list", None)
        if refused is not None:
            return refused
        items = [
            (name.lower(), self._bundle(request, name, v, value=False, versioned=False))
            for name, v in self.store.list_current(vault.name)
        ]
        return self._paged(request, "/secrets", items)

    def list_versions(self, request: Request, vault: Vault, caller: dict[str, Any], name: str) -> Response:
        refused = self._refuse(vault, caller, "list", name)
        if refused is not None:
            return refused
        try:
            stored_name, versions = self.store.versions(vault.name, name)
        except UnknownSecret:
            # Key Vault answers an unknown secret's versions with an empty list, not a 404.
            return json_response(200, {"value": [], "nextLink": None})
        # Sorted by version id, as Key Vault pages them (its skiptoken is secret/NAME/VERSIONID), not
        # by age: a client must not take the last listed for the current one.
        items = [
            (v.version, self._bundle(request, stored_name, v, value=False, versioned=True))
            for v in sorted(versions, key=lambda v: v.version)
        ]
        return self._paged(request, f"/secrets/{stored_name}/versions", items)

"""The world file: read (`load_world`: UTF-8, YAML with duplicate keys refused, depth bounded) and
strictly validated (`parse_world`, `Parser`) into the frozen types of `baker.emulator.world`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import yaml

from baker.emulator import certs
from baker.emulator.world import (
    HINT,
    IDENTIFIER,
    MODELS,
    POLICY_PERMISSIONS,
    SECRET_NAME,
    VAULT_NAME,
    VERSION_ID,
    App,
    CertificateSpec,
    ClientSecret,
    Grant,
    ManagedIdentity,
    SecretVersion,
    Tenant,
    Vault,
    World,
)
from baker.emulator.worldfile_identity import (
    federated_credentials,
    managed_identities,
    oidc_settings,
)
from baker.errors import WorldError
from baker.manifest.yamltree import MAX_DEPTH, compose

_VERSION_KEYS = {"value", "version", "enabled", "exp", "nbf", "content_type", "tags", "created"}


class Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise WorldError(
            f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}", hint=HINT
        )

    def mapping(self, value: Any, where: str, allowed: set[str] | None = None) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a mapping, got {_kind(value)}")
        if allowed is not None:
            unknown = sorted(str(k) for k in value if k not in allowed)
            if unknown:
                self.fail(where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            self.fail(where, f"expected a string, got {_kind(value)}")
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_kind(value)}")
        return value

    def ident(self, value: Any, where: str, what: str) -> str:
        text = self.string(value, where)
        if not IDENTIFIER.match(text):
            self.fail(where, f"{text!r} is not a valid {what}")
        return text

    def when(self, value: Any, where: str) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, bool):
            self.fail(where, "expected a date, got a boolean")
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value, dt.timezone.utc)
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, dt.date):
            moment = dt.datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                self.fail(where, f"{value!r} is not an ISO 8601 date")
        else:
            self.fail(where, f"expected a date, got {_kind(value)}")
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)

    # --- the sections ---------------------------------------------------------------------------

    def world(self, data: Any) -> World:
        top = self.mapping(data, "", {"tenants", "vaults", "oidc"})
        tenants_raw = self.mapping(top.get("tenants") or {}, "tenants")
        tenants = {
            self.ident(t, "tenants", "tenant id").lower(): self.tenant(t, body)
            for t, body in tenants_raw.items()
        }
        vaults_raw = self.mapping(top.get("vaults") or {}, "vaults")
        vaults: dict[str, Vault] = {}
        for name, body in vaults_raw.items():
            where = f"vaults.{name}"
            if not isinstance(name, str) or not VAULT_NAME.match(name):
                self.fail(where, "a vault name is 3-24 letters, digits and hyphens, starting with a letter")
            if name.lower() in vaults:
                self.fail(where, "duplicate vault name (names are case-insensitive)")
            vaults[name.lower()] = self.vault(name.lower(), body, tenants)
        _check_unique_identities(self, tenants)
        oidc = oidc_settings(self, top.get("oidc"), "oidc")
        return World(tenants=tenants, vaults=vaults, source=self.source, oidc=oidc)

    def tenant(self, tenant_id: str, body: Any) -> Tenant:
        where = f"tenants.{tenant_id}"
        raw = self.mapping(body if body is not None else {}, where, {"apps", "managed_identities"})
        apps_raw = self.mapping(raw.get("apps") or {}, f"{where}.apps")
        apps: dict[str, App] = {}
        for client_id, app_body in apps_raw.items():
            app_where = f"{where}.apps.{client_id}"
            cid = self.ident(client_id, app_where, "client id")
            app = self.mapping(
                app_body if app_body is not None else {}, app_where, {"secrets", "federated_credentials"}
            )
            secrets_raw = app.get("secrets") or []
            if not isinstance(secrets_raw, list):
                self.fail(f"{app_where}.secrets", f"expected a list, got {_kind(secrets_raw)}")
            apps[cid.lower()] = App(
                cid,
                tuple(self.client_secret(s, f"{app_where}.secrets[{i}]") for i, s in enumerate(secrets_raw)),
                federated_credentials(
                    self, app.get("federated_credentials"), f"{app_where}.federated_credentials"
                ),
            )
        identities = managed_identities(self, raw.get("managed_identities"), f"{where}.managed_identities")
        for client_id in identities:
            if client_id in apps:
                self.fail(f"{where}.managed_identities.{client_id}", "that client id is already an app's")
        return Tenant(tenant_id, apps, identities)

    def client_secret(self, value: Any, where: str) -> ClientSecret:
        if isinstance(value, str):
            return ClientSecret(value)
        raw = self.mapping(value, where, {"value", "expired"})
        if "value" not in raw:
            self.fail(where, "missing 'value'")
        return ClientSecret(
            self.string(raw["value"], f"{where}.value"),
            self.boolean(raw.get("expired", False), f"{where}.expired"),
        )

    def vault(self, name: str, body: Any, tenants: Mapping[str, Tenant]) -> Vault:
        where = f"vaults.{name}"
        raw = self.mapping(body, where, {"tenant", "model", "grants", "secrets", "certificates"})
        if "tenant" not in raw:
            self.fail(where, "missing 'tenant'")
        tenant = self.string(raw["tenant"], f"{where}.tenant")
        if tenant.lower() not in tenants:
            self.fail(f"{where}.tenant", f"unknown tenant {tenant!r} (not under 'tenants')")
        model = self.string(raw.get("model", "rbac"), f"{where}.model")
        if model not in MODELS:
            self.fail(f"{where}.model", f"{model!r} is not one of: {', '.join(MODELS)}")
        secrets: dict[str, tuple[SecretVersion, ...]] = {}
        for secret_name, versions in self.mapping(raw.get("secrets") or {}, f"{where}.secrets").items():
            s_where = f"{where}.secrets.{secret_name}"
            if not isinstance(secret_name, str) or not SECRET_NAME.match(secret_name):
                self.fail(s_where, "a secret name is 1-127 letters, digits and hyphens")
            if secret_name.lower() in {n.lower() for n in secrets}:
                self.fail(s_where, "duplicate secret name (names are case-insensitive)")
            secrets[secret_name] = self.versions(versions, s_where)
        for cert_name, spec in self.mapping(raw.get("certificates") or {}, f"{where}.certificates").items():
            c_where = f"{where}.certificates.{cert_name}"
            if not isinstance(cert_name, str) or not SECRET_NAME.match(cert_name):
                self.fail(c_where, "a certificate name is 1-127 letters, digits and hyphens")
            if cert_name.lower() in {n.lower() for n in secrets}:
                self.fail(c_where, "a secret of that name exists (a certificate's secret has its name)")
            secrets[cert_name] = (self.certificate(spec, c_where),)
        grants_raw = raw.get("grants") or []
        if not isinstance(grants_raw, list):
            self.fail(f"{where}.grants", f"expected a list, got {_kind(grants_raw)}")
        known = {n.lower() for n in secrets}
        grants = tuple(
            self.grant(g, f"{where}.grants[{i}]", model, tenants[tenant.lower()], known)
            for i, g in enumerate(grants_raw)
        )
        return Vault(name, tenant.lower(), model, grants, secrets)

    def grant(self, value: Any, where: str, model: str, tenant: Tenant, known: set[str]) -> Grant:
        allowed = {"app", "permissions"} if model == "access-policy" else {"app", "scope", "secrets"}
        raw = self.mapping(value, where, allowed | {"identity"})
        if ("app" in raw) == ("identity" in raw):
            self.fail(
                where, "give exactly one of 'app: <client id>' or 'identity: <managed identity client id>'"
            )
        if "identity" in raw:
            app = self.string(raw["identity"], f"{where}.identity")
            if app.lower() not in tenant.managed_identities:
                self.fail(
                    f"{where}.identity",
                    f"unknown managed identity {app!r} (not in {tenant.tenant_id}'s managed_identities)",
                )
        else:
            app = self.string(raw["app"], f"{where}.app")
            if app.lower() not in tenant.apps:
                self.fail(f"{where}.app", f"unknown app {app!r} (not an app of tenant {tenant.tenant_id})")
        if model == "access-policy":
            perms = raw.get("permissions", ["get", "list"])
            if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
                self.fail(f"{where}.permissions", "expected a list of permissions (get, list)")
            bad = sorted(set(perms) - POLICY_PERMISSIONS)
            if bad:
                self.fail(f"{where}.permissions", f"unknown permission {bad[0]!r} (allowed: get, list)")
            return Grant(app.lower(), None, frozenset(perms))
        if ("scope" in raw) == ("secrets" in raw):
            self.fail(where, "give exactly one of 'scope: vault' or 'secrets: [names]'")
        if "scope" in raw:
            if raw["scope"] != "vault":
                self.fail(f"{where}.scope", "the only scope is 'vault' (use 'secrets: [names]' for others)")
            return Grant(app.lower())
        names = raw["secrets"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.fail(f"{where}.secrets", "expected a non-empty list of secret names")
        for n in names:
            if n.lower() not in known:
                self.fail(f"{where}.secrets", f"unknown secret {n!r} (not in this vault's secrets)")
        return Grant(app.lower(), frozenset(n.lower() for n in names), frozenset({"get"}))

    def certificate(self, value: Any, where: str) -> SecretVersion:
        """`{key: ec|rsa, format: pkcs12|pem, chain: true, subject: CN}`: made now (`certs.make`)."""
        raw = self.mapping(value if value is not None else {}, where, {"key", "format", "chain", "subject"})
        kind = self.string(raw.get("key", "ec"), f"{where}.key")
        form = self.string(raw.get("format", "pkcs12"), f"{where}.format")
        if kind not in certs.KEYS:
            self.fail(f"{where}.key", f"{kind!r} is not one of: {', '.join(certs.KEYS)}")
        if form not in certs.FORMATS:
            self.fail(f"{where}.format", f"{form!r} is not one of: {', '.join(certs.FORMATS)}")
        subject = self.string(raw.get("subject", where.rsplit(".", 1)[-1]), f"{where}.subject")
        chain = self.boolean(raw.get("chain", True), f"{where}.chain")
        spec = CertificateSpec(subject, kind, form, chain)
        return SecretVersion("", content_type=certs.FORMATS[form], certificate=spec)

    def versions(self, value: Any, where: str) -> tuple[SecretVersion, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            self.fail(where, "a secret needs at least one version")
        out = [
            self.version(v, f"{where}[{i}]" if isinstance(value, list) else where)
            for i, v in enumerate(items)
        ]
        ids = [v.version for v in out if v.version]
        if len(ids) != len(set(ids)):
            self.fail(where, "two versions share one version id")
        return tuple(out)

    def version(self, value: Any, where: str) -> SecretVersion:
        if isinstance(value, str):
            return SecretVersion(value)
        raw = self.mapping(value, where, _VERSION_KEYS)
        if "value" not in raw:
            self.fail(where, "missing 'value'")
        version = raw.get("version")
        if version is not None and (not isinstance(version, str) or not VERSION_ID.match(version)):
            self.fail(f"{where}.version", "a version id is 32 lowercase hex digits")
        tags = raw.get("tags")
        if tags is not None:
            tags_map = self.mapping(tags, f"{where}.tags")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags_map.items()):
                self.fail(f"{where}.tags", "tags map strings to strings (quote numbers)")
            tags = dict(tags_map)
        ctype = raw.get("content_type")
        return SecretVersion(
            value=self.string(raw["value"], f"{where}.value"),
            version=version,
            enabled=self.boolean(raw.get("enabled", True), f"{where}.enabled"),
            exp=self.when(raw.get("exp"), f"{where}.exp"),
            nbf=self.when(raw.get("nbf"), f"{where}.nbf"),
            content_type=None if ctype is None else self.string(ctype, f"{where}.content_type"),
            tags=tags,
            created=self.when(raw.get("created"), f"{where}.created"),
        )


def _check_unique_identities(parser: Parser, tenants: Mapping[str, Tenant]) -> None:
    """One host has one system-assigned identity; a user-assigned client id names one identity."""
    seen: dict[str, str] = {}
    system: ManagedIdentity | None = None
    for tenant_id, tenant in tenants.items():
        for client_id, identity in tenant.managed_identities.items():
            where = f"tenants.{tenant_id}.managed_identities.{identity.client_id}"
            if client_id in seen:
                parser.fail(
                    where, f"client id already used by a managed identity of tenant {seen[client_id]}"
                )
            seen[client_id] = tenant_id
            if identity.system_assigned:
                if system is not None:
                    parser.fail(
                        f"{where}.system_assigned",
                        f"a host has one system-assigned identity ({system.client_id} is already)",
                    )
                system = identity


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "a mapping" if isinstance(value, Mapping) else type(value).__name__
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_world(path: Path) -> World:
    """Read and validate a world file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise WorldError(f"{path}: cannot read the world file ({exc.strerror})", hint=HINT) from None
    except UnicodeDecodeError as exc:
        raise WorldError(f"{path}: not UTF-8 text (byte {exc.start})", hint=HINT) from None
    try:
        # PyYAML composes recursively: a file nested thousands deep must be refused before that.
        # Composed on libyaml when there is one (the manifest's reader, `yamltree.compose`).
        deep_at, node = compose(text, _UniqueKeyLoader)
        if deep_at is not None:
            raise WorldError(f"{path}: nested more than {MAX_DEPTH} levels deep (line {deep_at})", hint=HINT)
        data = _UniqueKeyLoader("").construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise WorldError(f"{path}: not valid YAML{line}: {problem}", hint=HINT) from None
    return parse_world(data if data is not None else {}, source=str(path))


def parse_world(data: Any, source: str = "<world>") -> World:
    return Parser(source).world(data)

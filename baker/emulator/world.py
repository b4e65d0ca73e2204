"""The emulator's world file: who exists, who may read what, and the secrets.

Format (YAML; every key below is the full set allowed, anything else is refused)::

    tenants:
      <tenant-id>:                      # a GUID, as Entra shows it
        apps:
          <client-id>:                  # the app registration's Application (client) ID
            secrets:                    # its client secrets; any one of them signs in
              - demo-client-secret-Q7v2             # shorthand for {value: ...}
              - {value: old-secret, expired: true}  # AADSTS7000222 when used
            federated_credentials:      # workload identity federation (the app may have no secrets)
              - issuer: https://oidc.localhost/github   # oidc.localhost without a port: this emulator
                subject: repo:ORG/REPO:ref:refs/heads/main
                audience: api://AzureADTokenExchange    # the default
        managed_identities:             # what IDENTITY_ENDPOINT hands out (App Service style)
          <client-id>: {object_id: <guid>, system_assigned: true}  # at most one, world-wide
          <client-id>: {}                                          # user-assigned (object_id optional)
    oidc:                               # the emulator's own token sources (all optional)
      github_actions: {subject: "repo:ORG/REPO:ref:refs/heads/main", token_lifetime: 300}
        # subject_form: plain (default) | immutable -> the token's sub reads
        #   repo:ORG@OWNER_ID/REPO@REPO_ID:ref:refs/heads/main (GitHub's default for new repositories)
        # owner_id: "190000001", repository_id: "790000001"  (digits; also the token's *_id claims)
      azure_pipelines:
        service_connections: {<guid>: sc://ORG/PROJECT/CONNECTION}   # id -> the token's subject
    vaults:
      <vault-name>:                     # served at https://<vault-name>.vault.localhost:PORT
        tenant: <tenant-id>             # must be listed under tenants
        model: rbac                     # rbac (default) | access-policy
        grants:
          - {app: <client-id>, scope: vault}          # rbac: Key Vault Secrets User on the vault
          - {app: <client-id>, secrets: [db-password]}  # rbac: that role on these secrets only
          - {app: <client-id>, permissions: [get, list]}  # access-policy vaults only
          - {identity: <client-id>, scope: vault}     # a managed identity, instead of `app:`
        secrets:
          <name>: plain value                       # one version
          <name>: {value: ..., content_type: ..., tags: {k: v}, enabled: true,
                   exp: 2030-01-01T00:00:00Z, nbf: ..., created: ..., version: <32 hex>}
          <name>: [<version>, <version>, ...]       # oldest first; the last is current
        certificates:                   # made at load; served as Key Vault serves a certificate's secret
          <name>: {key: ec, format: pkcs12, chain: true, subject: <CN>}  # key ec|rsa, format pkcs12|pem

Dates are YAML timestamps, ISO 8601 strings or unix seconds (UTC when no zone is given).  Names are
checked as Azure checks them (secret names `[0-9A-Za-z-]{1,127}`, case-insensitive); a grant must name
an app of the vault's tenant.  An app with no grant on a vault is refused there, as Azure would.  In an
access-policy vault an app without a listed policy gets 403 AccessDenied (the legacy-model failure).

Federated credentials are matched as Entra matches them: issuer, subject and audience exactly and
case-sensitively.  Only tokens of the emulator's own issuer (`https://oidc.localhost:PORT`, or any path
under it) can be verified; a federated credential naming another issuer never matches a token.

`load_world(path)` / `parse_world(mapping, source)` return a frozen `World` or raise
`baker.errors.WorldError` naming the file and the key at fault.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from baker.record import Record, field

SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
VAULT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
VERSION_ID = re.compile(r"^[0-9a-f]{32}$")
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$")
MODELS = ("rbac", "access-policy")
POLICY_PERMISSIONS = frozenset({"get", "list"})
DEFAULT_FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
DEFAULT_GITHUB_SUBJECT = "repo:baker-demo/app:ref:refs/heads/main"
# GitHub's two subject forms: `repo:OWNER/REPO:...` (plain) and `repo:OWNER@OWNER_ID/REPO@REPO_ID:...`
# (immutable, the default for repositories created after 2026-07-15; docs/AZURE-WIRE.md).
GITHUB_SUBJECT_FORMS = ("plain", "immutable")
DEFAULT_GITHUB_OWNER_ID = "190000001"
DEFAULT_GITHUB_REPOSITORY_ID = "790000001"
_GITHUB_PLAIN = re.compile(r"repo:([^/@:]+)/([^/@:]+):(.+)", re.DOTALL)


def github_repository(subject: str) -> tuple[str, str, str] | None:
    """(owner, repository, the rest after them) of a GitHub subject in the plain form, else None."""
    match = _GITHUB_PLAIN.fullmatch(subject)
    return (match[1], match[2], match[3]) if match else None


def github_sub(subject: str, form: str, owner_id: str, repository_id: str) -> str:
    """The `sub` GitHub presents for a subject written in the plain form: as written, or the
    immutable form `repo:OWNER@OWNER_ID/REPO@REPO_ID:...`."""
    parts = github_repository(subject)
    if form != "immutable" or parts is None:
        return subject
    owner, repository, rest = parts
    return f"repo:{owner}@{owner_id}/{repository}@{repository_id}:{rest}"


HINT = "the world file format is described in baker/emulator/world.py (and the README)"


class ClientSecret(Record):
    value: str = field(repr=False)
    expired: bool = False


class FederatedCredential(Record):
    """Whom the app trusts: tokens of `issuer` for `subject` and `audience` (all case-sensitive)."""

    issuer: str
    subject: str
    audience: str = DEFAULT_FEDERATED_AUDIENCE
    name: str | None = None


class App(Record):
    client_id: str
    secrets: tuple[ClientSecret, ...]
    federated_credentials: tuple[FederatedCredential, ...] = ()


class ManagedIdentity(Record):
    """A managed identity: its tokens carry `client_id` as appid (grants name it with `identity:`)."""

    client_id: str
    object_id: str
    system_assigned: bool = False


class Tenant(Record):
    tenant_id: str
    apps: Mapping[str, App]
    managed_identities: Mapping[str, ManagedIdentity] = field(default_factory=dict)


class OidcSettings(Record):
    """The emulator's CI token sources: GitHub Actions' default job and Azure Pipelines' connections."""

    github_subject: str = DEFAULT_GITHUB_SUBJECT  # written in the plain form, repo:OWNER/REPO:...
    github_token_lifetime: float = 300.0
    github_subject_form: str = "plain"  # one of GITHUB_SUBJECT_FORMS: what the token's `sub` reads
    github_owner_id: str = DEFAULT_GITHUB_OWNER_ID  # the token's repository_owner_id
    github_repository_id: str = DEFAULT_GITHUB_REPOSITORY_ID  # the token's repository_id
    service_connections: Mapping[str, str] = field(default_factory=dict)  # id (lower) -> subject


class Grant(Record):
    """`secrets` None means the whole vault; `permissions` is for access-policy vaults.  `app` is the
    client id the token carries: an app's, or a managed identity's (`identity:` in the file)."""

    app: str
    secrets: frozenset[str] | None = None
    permissions: frozenset[str] = frozenset({"get", "list"})


class CertificateSpec(Record):
    """A world file's certificate: its material is made when the emulator starts (`certs.make`)."""

    subject: str
    key: str = "ec"  # ec | rsa
    format: str = "pkcs12"  # pkcs12 | pem
    chain: bool = True


class SecretVersion(Record):
    value: str = field(repr=False)
    version: str | None = None
    enabled: bool = True
    exp: dt.datetime | None = None
    nbf: dt.datetime | None = None
    content_type: str | None = None
    tags: Mapping[str, str] | None = None
    created: dt.datetime | None = None
    certificate: CertificateSpec | None = None  # the value is made from it at start


class Vault(Record):
    name: str
    tenant: str
    model: str
    grants: tuple[Grant, ...]
    secrets: Mapping[str, tuple[SecretVersion, ...]]  # original-case name -> versions, oldest first


class World(Record):
    tenants: Mapping[str, Tenant]
    vaults: Mapping[str, Vault]
    source: str = "<world>"
    oidc: OidcSettings = field(default_factory=OidcSettings)

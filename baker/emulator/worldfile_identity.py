"""The world file's keyless sign-in keys: apps' `federated_credentials`, tenants' `managed_identities`,
and the top-level `oidc` block (see `baker.emulator.world` for the format)."""

from __future__ import annotations

import math
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any, NoReturn, Protocol

from baker.emulator.world import (
    DEFAULT_FEDERATED_AUDIENCE,
    DEFAULT_GITHUB_OWNER_ID,
    DEFAULT_GITHUB_REPOSITORY_ID,
    DEFAULT_GITHUB_SUBJECT,
    GITHUB_SUBJECT_FORMS,
    FederatedCredential,
    ManagedIdentity,
    OidcSettings,
    github_repository,
)

MAX_FEDERATED_CREDENTIALS = 20  # Entra's limit per application
_MAX_SUBJECT = 600  # Entra's limit on a federated credential's subject
_FIC_KEYS = {"name", "issuer", "subject", "audience"}


class _Parser(Protocol):
    """What these functions use of `worldfile.Parser` (a protocol: no import back into it)."""

    def fail(self, where: str, problem: str) -> NoReturn: ...
    def mapping(self, value: Any, where: str, allowed: set[str] | None = None) -> Mapping[Any, Any]: ...
    def string(self, value: Any, where: str) -> str: ...
    def boolean(self, value: Any, where: str) -> bool: ...
    def ident(self, value: Any, where: str, what: str) -> str: ...


def federated_credentials(parser: _Parser, value: Any, where: str) -> tuple[FederatedCredential, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        parser.fail(where, "expected a list of {issuer, subject, audience}")
    if len(value) > MAX_FEDERATED_CREDENTIALS:
        parser.fail(where, f"Entra allows at most {MAX_FEDERATED_CREDENTIALS} federated credentials per app")
    out: list[FederatedCredential] = []
    for i, item in enumerate(value):
        fic = _federated_credential(parser, item, f"{where}[{i}]")
        if any((f.issuer, f.subject) == (fic.issuer, fic.subject) for f in out):
            parser.fail(f"{where}[{i}]", "another federated credential has this issuer and subject")
        out.append(fic)
    return tuple(out)


def _federated_credential(parser: _Parser, value: Any, where: str) -> FederatedCredential:
    raw = parser.mapping(value, where, _FIC_KEYS)
    for key in ("issuer", "subject"):
        if key not in raw:
            parser.fail(where, f"missing '{key}'")
    issuer = parser.string(raw["issuer"], f"{where}.issuer")
    parts = urllib.parse.urlsplit(issuer)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        parser.fail(f"{where}.issuer", f"{issuer!r} is not an https URL (Entra requires one)")
    subject = parser.string(raw["subject"], f"{where}.subject")
    if not subject or len(subject) > _MAX_SUBJECT:
        parser.fail(f"{where}.subject", f"a subject is 1-{_MAX_SUBJECT} characters")
    audience = parser.string(raw.get("audience", DEFAULT_FEDERATED_AUDIENCE), f"{where}.audience")
    if not audience:
        parser.fail(f"{where}.audience", "an audience cannot be empty")
    name = raw.get("name")
    return FederatedCredential(
        issuer=issuer,
        subject=subject,
        audience=audience,
        name=None if name is None else parser.string(name, f"{where}.name"),
    )


def managed_identities(parser: _Parser, value: Any, where: str) -> dict[str, ManagedIdentity]:
    raw = parser.mapping(value if value is not None else {}, where)
    out: dict[str, ManagedIdentity] = {}
    for client_id, body in raw.items():
        item_where = f"{where}.{client_id}"
        cid = parser.ident(client_id, item_where, "client id")
        if cid.lower() in out:
            parser.fail(item_where, "duplicate client id (ids are case-insensitive)")
        spec = parser.mapping(body if body is not None else {}, item_where, {"object_id", "system_assigned"})
        if "object_id" in spec:
            object_id = parser.ident(spec["object_id"], f"{item_where}.object_id", "object id")
        else:  # stable, so a test can predict it
            object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"managed-identity/{cid.lower()}"))
        system = parser.boolean(spec.get("system_assigned", False), f"{item_where}.system_assigned")
        out[cid.lower()] = ManagedIdentity(cid, object_id, system)
    return out


def oidc_settings(parser: _Parser, value: Any, where: str) -> OidcSettings:
    raw = parser.mapping(value if value is not None else {}, where, {"github_actions", "azure_pipelines"})
    github = parser.mapping(
        raw.get("github_actions") or {},
        f"{where}.github_actions",
        {"subject", "token_lifetime", "subject_form", "owner_id", "repository_id"},
    )
    subject = parser.string(github.get("subject", DEFAULT_GITHUB_SUBJECT), f"{where}.github_actions.subject")
    if not subject:
        parser.fail(f"{where}.github_actions.subject", "a subject cannot be empty")
    lifetime = github.get("token_lifetime", 300)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or not math.isfinite(lifetime):
        parser.fail(f"{where}.github_actions.token_lifetime", "expected a number of seconds")
    if lifetime <= 0:
        parser.fail(f"{where}.github_actions.token_lifetime", "a token lifetime must be positive")
    form = github.get("subject_form", "plain")
    if form not in GITHUB_SUBJECT_FORMS:
        parser.fail(
            f"{where}.github_actions.subject_form", f"expected one of {', '.join(GITHUB_SUBJECT_FORMS)}"
        )
    ids = {}
    for key, default in (
        ("owner_id", DEFAULT_GITHUB_OWNER_ID),
        ("repository_id", DEFAULT_GITHUB_REPOSITORY_ID),
    ):
        value = github.get(key, default)
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 20:
            parser.fail(f"{where}.github_actions.{key}", "expected GitHub's numeric id (digits)")
        ids[key] = text
    if form == "immutable" and github_repository(subject) is None:
        parser.fail(
            f"{where}.github_actions.subject",
            "the immutable form needs a subject written repo:OWNER/REPO:... (the emulator adds the ids)",
        )
    pipelines = parser.mapping(
        raw.get("azure_pipelines") or {}, f"{where}.azure_pipelines", {"service_connections"}
    )
    connections_where = f"{where}.azure_pipelines.service_connections"
    connections: dict[str, str] = {}
    for connection_id, conn_subject in parser.mapping(
        pipelines.get("service_connections") or {}, connections_where
    ).items():
        cid = parser.ident(connection_id, connections_where, "service connection id")
        if cid.lower() in connections:
            parser.fail(f"{connections_where}.{cid}", "duplicate service connection id")
        text = parser.string(conn_subject, f"{connections_where}.{cid}")
        if not text:
            parser.fail(f"{connections_where}.{cid}", "a subject cannot be empty")
        connections[cid.lower()] = text
    return OidcSettings(
        github_subject=subject,
        github_token_lifetime=float(lifetime),
        github_subject_form=str(form),
        github_owner_id=ids["owner_id"],
        github_repository_id=ids["repository_id"],
        service_connections=connections,
    )

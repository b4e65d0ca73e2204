"""The world file's keyless sign-in keys: federated credentials, managed identities, `identity:`
grants and the `oidc` block, and their refusals naming file and key path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baker.emulator.world import FederatedCredential, github_sub
from baker.emulator.worldfile import load_world, parse_world
from baker.errors import WorldError
from tests.support.fixtures_emulator import (
    FEDERATED_APP,
    GITHUB_SUBJECT,
    KEYLESS_TENANT,
    PIPELINES_SUBJECT,
    SERVICE_CONNECTION,
    SYSTEM_IDENTITY,
    USER_IDENTITY,
    keyless_world,
)

APP = f"tenants.{KEYLESS_TENANT}.apps.{FEDERATED_APP}"
IDENTITIES = f"tenants.{KEYLESS_TENANT}.managed_identities"


def test_keyless_world_parses_into_frozen_values() -> None:
    world = parse_world(keyless_world())
    tenant = world.tenants[KEYLESS_TENANT]
    app = tenant.apps[FEDERATED_APP]
    assert app.secrets == ()
    assert app.federated_credentials[0] == FederatedCredential(
        "https://oidc.localhost/github", GITHUB_SUBJECT, "api://AzureADTokenExchange"
    )
    assert tenant.managed_identities[SYSTEM_IDENTITY].system_assigned
    assert not tenant.managed_identities[USER_IDENTITY].system_assigned
    assert [g.app for g in world.vaults["keyless"].grants] == [FEDERATED_APP, SYSTEM_IDENTITY, USER_IDENTITY]
    assert world.oidc.github_subject == GITHUB_SUBJECT
    assert world.oidc.service_connections == {SERVICE_CONNECTION: PIPELINES_SUBJECT}


def test_world_without_keyless_keys_gets_defaults() -> None:
    world = parse_world({"tenants": {KEYLESS_TENANT: {"apps": {FEDERATED_APP: {"secrets": ["s"]}}}}})
    assert world.tenants[KEYLESS_TENANT].apps[FEDERATED_APP].federated_credentials == ()
    assert world.tenants[KEYLESS_TENANT].managed_identities == {}
    assert (world.oidc.github_token_lifetime, world.oidc.service_connections) == (300.0, {})


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(world: dict[str, Any]) -> None:
        node = world
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


_FICS = ["tenants", KEYLESS_TENANT, "apps", FEDERATED_APP, "federated_credentials"]
_MIS = ["tenants", KEYLESS_TENANT, "managed_identities"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_set(_FICS, "https://oidc.localhost"), f"{APP}.federated_credentials: expected a list"),
        (_set([*_FICS, 0], {"subject": "s"}), f"{APP}.federated_credentials[0]: missing 'issuer'"),
        (_set([*_FICS, 0], {"issuer": "https://i"}), f"{APP}.federated_credentials[0]: missing 'subject'"),
        (
            _set([*_FICS, 0], {"issuer": "http://i", "subject": "s"}),
            f"{APP}.federated_credentials[0].issuer: 'http://i' is not an https URL",
        ),
        (
            _set([*_FICS, 0], {"issuer": "https://i", "subject": ""}),
            f"{APP}.federated_credentials[0].subject: a subject is 1-600 characters",
        ),
        (
            _set([*_FICS, 0], {"issuer": "https://i", "subject": "s", "audience": 7}),
            f"{APP}.federated_credentials[0].audience: expected a string, got a number",
        ),
        (
            _set([*_FICS, 0], {"issuer": "https://i", "subject": "s", "audiences": ["a"]}),
            f"{APP}.federated_credentials[0]: unknown key 'audiences'",
        ),
        (
            _set([*_FICS, 1], {"issuer": "https://oidc.localhost/github", "subject": GITHUB_SUBJECT}),
            f"{APP}.federated_credentials[1]: another federated credential has this issuer and subject",
        ),
        (
            _set(_FICS, [{"issuer": "https://i", "subject": f"s{i}"} for i in range(21)]),
            "Entra allows at most 20 federated credentials per app",
        ),
        (
            _set([*_MIS, USER_IDENTITY], {"system_assigned": "yes"}),
            f"{IDENTITIES}.{USER_IDENTITY}.system_assigned",
        ),
        (
            _set([*_MIS, USER_IDENTITY], {"system_assigned": True}),
            "a host has one system-assigned identity",
        ),
        (
            _set([*_MIS, USER_IDENTITY], {"client_id": "x"}),
            f"{IDENTITIES}.{USER_IDENTITY}: unknown key 'client_id'",
        ),
        (
            _set([*_MIS, FEDERATED_APP], {}),
            f"{IDENTITIES}.{FEDERATED_APP}: that client id is already an app's",
        ),
        (
            _set(["vaults", "keyless", "grants", 0], {"identity": "nobody", "scope": "vault"}),
            "vaults.keyless.grants[0].identity: unknown managed identity 'nobody'",
        ),
        (
            _set(["vaults", "keyless", "grants", 0], {"app": FEDERATED_APP, "identity": USER_IDENTITY}),
            "vaults.keyless.grants[0]: give exactly one of 'app: <client id>' or 'identity:",
        ),
        (
            _set(["vaults", "keyless", "grants", 0], {"identity": FEDERATED_APP, "scope": "vault"}),
            f"vaults.keyless.grants[0].identity: unknown managed identity '{FEDERATED_APP}'",
        ),
        (_set(["oidc", "gitlab"], {}), "oidc: unknown key 'gitlab'"),
        (
            _set(["oidc", "github_actions", "token_lifetime"], 0),
            "oidc.github_actions.token_lifetime: a token",
        ),
        (
            _set(["oidc", "github_actions", "token_lifetime"], "5m"),
            "oidc.github_actions.token_lifetime: expected",
        ),
        (
            _set(["oidc", "github_actions", "subject"], ""),
            "oidc.github_actions.subject: a subject cannot be empty",
        ),
        (
            _set(["oidc", "azure_pipelines", "service_connections", SERVICE_CONNECTION], ["sc://x"]),
            f"oidc.azure_pipelines.service_connections.{SERVICE_CONNECTION}: expected a string, got a list",
        ),
    ],
    ids=[
        "fics-not-list",
        "fic-no-issuer",
        "fic-no-subject",
        "fic-http-issuer",
        "fic-empty-subject",
        "fic-audience-number",
        "fic-unknown-key",
        "fic-duplicate",
        "fic-too-many",
        "mi-system-not-bool",
        "mi-two-system",
        "mi-unknown-key",
        "mi-app-id-clash",
        "grant-unknown-identity",
        "grant-app-and-identity",
        "grant-identity-is-app",
        "oidc-unknown-key",
        "oidc-lifetime-zero",
        "oidc-lifetime-text",
        "oidc-empty-subject",
        "oidc-connection-list",
    ],
)
def test_bad_keyless_keys_are_refused_naming_the_key(
    edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    world = copy.deepcopy(keyless_world())
    edit(world)
    with pytest.raises(WorldError) as caught:
        parse_world(world, source="world.yaml")
    assert str(caught.value).startswith("world.yaml: ")
    assert expected in str(caught.value)


def test_world_file_with_federated_credentials_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(
        f"""
tenants:
  {KEYLESS_TENANT}:
    apps:
      {FEDERATED_APP}:
        federated_credentials:
          - issuer: https://oidc.localhost/github
            subject: "repo:o/r:environment:prod"
            audience: api://custom
            name: github-prod
oidc:
  github_actions: {{subject: "repo:o/r:environment:prod", token_lifetime: 2.5}}
""",
        encoding="utf-8",
    )
    world = load_world(path)
    fic = world.tenants[KEYLESS_TENANT].apps[FEDERATED_APP].federated_credentials[0]
    assert (fic.subject, fic.audience, fic.name) == (
        "repo:o/r:environment:prod",
        "api://custom",
        "github-prod",
    )
    assert world.oidc.github_token_lifetime == 2.5


_GITHUB = ["oidc", "github_actions"]


def test_github_subject_form_and_ids_are_read_from_the_world() -> None:
    world = keyless_world()
    world["oidc"]["github_actions"].update(subject_form="immutable", owner_id=42, repository_id="4242")
    oidc = parse_world(world).oidc
    assert (oidc.github_subject_form, oidc.github_owner_id, oidc.github_repository_id) == (
        "immutable",
        "42",
        "4242",
    )
    assert github_sub(oidc.github_subject, "immutable", "42", "4242") == (
        "repo:baker-org@42/app@4242:ref:refs/heads/main"
    )
    assert github_sub(oidc.github_subject, "plain", "42", "4242") == GITHUB_SUBJECT
    assert parse_world(keyless_world()).oidc.github_subject_form == "plain"  # the default


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_set([*_GITHUB, "subject_form"], "mutable"), "oidc.github_actions.subject_form: expected one of"),
        (_set([*_GITHUB, "owner_id"], "12ab"), "oidc.github_actions.owner_id: expected GitHub's numeric id"),
        (_set([*_GITHUB, "repository_id"], True), "oidc.github_actions.repository_id: expected GitHub's"),
        (
            lambda world: world["oidc"]["github_actions"].update(
                subject="sc://o/p/c", subject_form="immutable"
            ),
            "oidc.github_actions.subject: the immutable form needs a subject written repo:OWNER/REPO:",
        ),
    ],
    ids=["form", "owner-id", "repository-id", "not-a-repository"],
)
def test_bad_github_subject_form_settings_are_refused_naming_the_key(
    edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    world = keyless_world()
    edit(world)
    with pytest.raises(WorldError) as caught:
        parse_world(world)
    assert expected in caught.value.message

"""Emulator fixtures (owned by the emulator work; see baker/emulator).

- `emulator`: the demo world of examples/world.yaml, running for one test.
- `emulator_factory`: `emulator_factory(world_dict_or_path)` starts another; all stop at teardown.
- `azure_env`: the environment a client needs (AZURE_AUTHORITY_HOST, REQUESTS_CA_BUNDLE,
  SSL_CERT_FILE) set for the `emulator`'s duration.
- `make_credential` / `make_client`: the UNMODIFIED SDK clients pointed at an emulator.

A failure to start is an error in the test (never a skip): the emulator is pure Python on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator

EXAMPLE_WORLD = Path(__file__).resolve().parents[2] / "examples" / "world.yaml"

EmulatorFactory = Callable[..., Emulator]


@pytest.fixture
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = Emulator.start(EXAMPLE_WORLD, state_dir=tmp_path_factory.mktemp("emulator"))
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorFactory]:
    started: list[Emulator] = []

    def start(world: Mapping[str, Any] | Path | None = None, **kwargs: Any) -> Emulator:
        kwargs.setdefault("state_dir", tmp_path_factory.mktemp("emulator"))
        emu = Emulator.start(world, **kwargs)
        started.append(emu)
        return emu

    try:
        yield start
    finally:
        for emu in started:
            emu.stop()


@pytest.fixture
def azure_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = emulator.client_env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def make_credential() -> Callable[..., Any]:
    """`make_credential(emu, tenant=, client_id=, secret=)`: ClientSecretCredential (demo app by default)."""
    from azure.identity import ClientSecretCredential

    from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT

    def make(
        emu: Emulator, tenant: str = TENANT, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET
    ) -> Any:
        return ClientSecretCredential(
            tenant,
            client_id,
            secret,
            authority=emu.authority_host,
            disable_instance_discovery=True,
            connection_verify=str(emu.ca_bundle),
        )

    return make


@pytest.fixture
def make_client(make_credential: Callable[..., Any]) -> Callable[..., Any]:
    """`make_client(emu, vault="demo", credential=None, **client_kwargs)`: a SecretClient."""
    from azure.keyvault.secrets import SecretClient

    def make(emu: Emulator, vault: str = "demo", credential: Any = None, **kwargs: Any) -> Any:
        credential = credential if credential is not None else make_credential(emu)
        return SecretClient(emu.vault_url(vault), credential, connection_verify=str(emu.ca_bundle), **kwargs)

    return make


def small_world(
    *,
    tenant: str = "11111111-2222-3333-4444-555555555555",
    apps: Mapping[str, Any] | None = None,
    vaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A world dict for one test: `apps` maps client id -> client secret value(s)."""
    apps = apps or {}
    return {
        "tenants": {
            tenant: {
                "apps": {
                    cid: {"secrets": list(secret) if isinstance(secret, list | tuple) else [secret]}
                    for cid, secret in apps.items()
                }
            }
        },
        "vaults": {name: {"tenant": tenant, **body} for name, body in (vaults or {}).items()},
    }


# --- keyless sign-in (workload identity federation, managed identity) -----------------------------

KEYLESS_TENANT = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
FEDERATED_APP = "f1f1f1f1-0000-4000-8000-000000000001"  # trusts GitHub (main) and Azure Pipelines
GITHUB_SUBJECT = "repo:baker-org/app:ref:refs/heads/main"
SERVICE_CONNECTION = "5c5c5c5c-0000-4000-8000-000000000005"
PIPELINES_SUBJECT = "sc://baker-org/app/kv-connection"
SYSTEM_IDENTITY = "a1a1a1a1-0000-4000-8000-00000000000a"
USER_IDENTITY = "b2b2b2b2-0000-4000-8000-00000000000b"
UNGRANTED_IDENTITY = "c3c3c3c3-0000-4000-8000-00000000000c"
KEYLESS_VAULT = "keyless"
KEYLESS_VALUE = "federated-value-\u00e9 $x #y"


def keyless_world() -> dict[str, Any]:
    """One app with no client secret and three federated credentials, three managed identities (one
    system-assigned), and a vault granting the app and two of the identities."""
    return {
        "tenants": {
            KEYLESS_TENANT: {
                "apps": {
                    FEDERATED_APP: {
                        "federated_credentials": [
                            {"issuer": "https://oidc.localhost/github", "subject": GITHUB_SUBJECT},
                            {"issuer": "https://oidc.localhost/devops", "subject": PIPELINES_SUBJECT},
                            {"issuer": "https://oidc.localhost", "subject": "system:serviceaccount:ns:app"},
                        ]
                    }
                },
                "managed_identities": {
                    SYSTEM_IDENTITY: {"system_assigned": True},
                    USER_IDENTITY: {},
                    UNGRANTED_IDENTITY: {},
                },
            }
        },
        "oidc": {
            "github_actions": {"subject": GITHUB_SUBJECT},
            "azure_pipelines": {"service_connections": {SERVICE_CONNECTION: PIPELINES_SUBJECT}},
        },
        "vaults": {
            KEYLESS_VAULT: {
                "tenant": KEYLESS_TENANT,
                "grants": [
                    {"app": FEDERATED_APP, "scope": "vault"},
                    {"identity": SYSTEM_IDENTITY, "scope": "vault"},
                    {"identity": USER_IDENTITY, "secrets": ["value"]},
                ],
                "secrets": {"value": KEYLESS_VALUE},
            }
        },
    }


@pytest.fixture
def keyless_emulator(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """An emulator of `keyless_world()`, its CA trusted through REQUESTS_CA_BUNDLE (the managed identity
    and CI token requests go through requests too)."""
    emu = emulator_factory(keyless_world())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emu.ca_bundle))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emu.authority_host)
    return emu


@pytest.fixture
def make_assertion_credential() -> Callable[..., Any]:
    """`make_assertion_credential(emu, func, tenant=, client_id=)`: the UNMODIFIED ClientAssertionCredential,
    `func` returning the federated token each time it signs in."""
    from azure.identity import ClientAssertionCredential

    def make(
        emu: Emulator, func: Callable[[], str], tenant: str = KEYLESS_TENANT, client_id: str = FEDERATED_APP
    ) -> Any:
        return ClientAssertionCredential(
            tenant,
            client_id,
            func,
            authority=emu.authority_host,
            disable_instance_discovery=True,
            connection_verify=str(emu.ca_bundle),
        )

    return make

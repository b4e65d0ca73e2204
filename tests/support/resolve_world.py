"""A world for the resolver's integration tests: two tenants, several apps, four vaults, and every
way a reference can fail.  Plus helpers: start it, write a manifest, resolve, count requests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.manifest.checks import load
from baker.model import Manifest
from tests.support.manifests import write_manifest

TENANT = "11111111-2222-4333-8444-555555555555"
OTHER_TENANT = "99999999-8888-4777-8666-555555555555"
APP = "a1a1a1a1-0000-4000-8000-000000000001"
APP_SECRET = "main-app-secret-value-Kq9"
APP_OLD_SECRET = "main-app-expired-secret-Zz1"
SHARED_APP = "b2b2b2b2-0000-4000-8000-000000000002"
SHARED_SECRET = "shared-app-secret-value-Wd4"
NOROLE_APP = "c3c3c3c3-0000-4000-8000-000000000003"
NOROLE_SECRET = "no-role-app-secret-value-Pp7"
UNKNOWN_APP = "d4d4d4d4-0000-4000-8000-000000000004"
UNKNOWN_TENANT = "77777777-6666-4555-8444-333333333333"

PINNED = "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c"
DISABLED_VERSION = "0123456789abcdef0123456789abcdef"
TRICKY = "  lead and trail \t tab $HOME `cmd` \\back\\ \"q\" 'q' # = ünïcødé 🚀\r\nCRLF line\n"
PEM = "-----BEGIN DEMO KEY-----\nMIIBdemo...\n-----END DEMO KEY-----\n"
DB_JSON = '{"username": "app", "password": "p@ss w0rd$#\\"q", "port": 5432, "opts": {"ssl": true}}'

WORLD: dict[str, Any] = {
    "tenants": {
        TENANT: {
            "apps": {
                APP: {"secrets": [APP_SECRET, {"value": APP_OLD_SECRET, "expired": True}]},
                SHARED_APP: {"secrets": [SHARED_SECRET]},
                NOROLE_APP: {"secrets": [NOROLE_SECRET]},
            }
        },
        OTHER_TENANT: {"apps": {}},
    },
    "vaults": {
        "main": {
            "tenant": TENANT,
            "grants": [{"app": APP, "scope": "vault"}],
            "secrets": {
                "openai-api-key": "sk-demo-4f9a1c2e7b",
                "database-credentials": DB_JSON,
                "db-password": "hunter2-demo-pw",
                "legacy-key": [{"value": "legacy-v1-value", "version": PINNED}, {"value": "legacy-v2-value"}],
                "tls-key": PEM,
                "tricky": TRICKY,
                "switched-off": {"value": "disabled-value-123", "enabled": False},
                "old-version-off": [
                    {"value": "old-off-value-1", "version": DISABLED_VERSION, "enabled": False},
                    {"value": "current-on-value"},
                ],
                "plain-text": "this is not json at all",
                **{f"bulk-{i:02d}": f"bulk-value-{i:02d}-abcdef" for i in range(12)},
            },
        },
        "shared": {
            "tenant": TENANT,
            "grants": [{"app": SHARED_APP, "scope": "vault"}],
            "secrets": {"team-token": "team-token-value-551"},
        },
        "narrow": {
            "tenant": TENANT,
            "grants": [{"app": APP, "secrets": ["allowed-one"]}],
            "secrets": {"allowed-one": "allowed-value-111", "forbidden-one": "forbidden-value-222"},
        },
        "legacy": {
            "tenant": TENANT,
            "model": "access-policy",
            "grants": [{"app": SHARED_APP, "permissions": ["get", "list"]}],
            "secrets": {"old-secret": "old-policy-value-333"},
        },
    },
}


@dataclass
class World:
    emu: Emulator
    tmp: Path
    environ: dict[str, str]

    def vault_url(self, vault: str) -> str:
        return self.emu.vault_url(vault)

    def manifest(self, credentials: str, env: str, **environ: str) -> Manifest:
        """Write baker.yaml (credentials and env blocks as YAML text) and load it."""
        path = write_manifest(
            self.tmp / "baker.yaml",
            base="alpine:3",
            credentials=textwrap.indent(textwrap.dedent(credentials).strip("\n"), "  ") + "\n",
            env=textwrap.indent(textwrap.dedent(env).strip("\n"), "  ") + "\n",
        )
        return load(path, environ={**self.environ, **environ})

    def credential(
        self,
        name: str,
        vault: str,
        *,
        client_id: str = APP,
        tenant: str = TENANT,
        variable: str = "MAIN_SECRET",
        default: bool = False,
        vault_url: str | None = None,
    ) -> str:
        return textwrap.dedent(
            f"""\
            {name}:
              provider: azure-key-vault
              vault_url: {vault_url or self.vault_url(vault)}
              tenant_id: {tenant}
              client_id: {client_id}
              client_secret: ${{{variable}}}
              default: {"true" if default else "false"}
            """
        )

    def vault_requests(self, vault: str) -> list[tuple[str, str, int]]:
        host = f"{vault}.vault.localhost"
        return [(r.method, r.path, r.status) for r in self.emu.requests() if r.host == host]

    def token_requests(self) -> int:
        return sum(1 for r in self.emu.requests() if r.method == "POST" and r.path.endswith("/token"))


@pytest.fixture(name="world")
def world_fixture(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    from azure.keyvault.secrets._shared import http_challenge_cache

    # The SDK caches each vault's challenge per host:port for the whole process; a port reused by a
    # later test's emulator must not inherit it.
    http_challenge_cache.clear()
    emu = emulator_factory(WORLD)
    env = emu.client_env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    environ: dict[str, str] = {
        **env,
        "MAIN_SECRET": APP_SECRET,
        "SHARED_SECRET": SHARED_SECRET,
        "NOROLE_SECRET": NOROLE_SECRET,
        "OLD_SECRET": APP_OLD_SECRET,
        "WRONG_SECRET": "not-the-right-secret-00",
    }
    yield World(emu, tmp_path, environ)
    http_challenge_cache.clear()


def env_block(entries: Mapping[str, str]) -> str:
    """`NAME: <yaml>` lines from a mapping of env name -> YAML flow text."""
    return "\n".join(f"{name}: {body}" for name, body in entries.items())

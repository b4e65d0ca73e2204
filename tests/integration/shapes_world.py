"""A world for the value shapes (issue 19): prefix sets past one list page, collisions, a disabled
secret, template parts holding every awkward value, certificates (EC and RSA, PKCS#12 and PEM, with
a chain, made now with `cryptography`), a plain secret named as a certificate, and a vault where the
app holds a role on single secrets only (it can read them, not list them)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.emulator.certs import Made, make
from baker.manifest.checks import load
from baker.model import Manifest

TENANT = "11111111-2222-4333-8444-555555555555"
APP = "a1a1a1a1-0000-4000-8000-000000000001"
APP_SECRET = "shapes-app-secret-value-Kq9"
BULK = 30  # past the 25 a list page holds

PEM_PART = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
    "-----END PRIVATE KEY-----\n"
)
# Every awkward thing a value may hold, in every part (and `{{ x }}`, which must stay literal).
EVERY = (
    PEM_PART + "  lead 'q' \"q\" $HOME ${X} `c` \\back\\ #h =e\tt\r\nCRLF ünï©ødé 😀 {{ x }} {{user}} trail  "
)
AWKWARD = {
    "tpl-user": "user:" + EVERY,
    "tpl-pass": EVERY + ":pass",
    "tpl-host": "  " + EVERY + "\n",
}


@cache
def certificates() -> dict[str, Made]:
    """Made once per test session: (EC, RSA) x (PKCS#12, PEM), each with a chain."""
    return {
        f"cert-{key}-{form}": make(f"{key}-{form}.example.test", key=key, form=form)
        for key in ("ec", "rsa")
        for form in ("pkcs12", "pem")
    }


def world() -> dict[str, Any]:
    secrets: dict[str, Any] = {
        **{f"bulk-item-{i:02d}": f"bulk-value-{i:02d}-abcdef" for i in range(BULK)},
        "bulk-off": {"value": "bulk-disabled-value-999", "enabled": False},
        "BULK-Mixed-Case": "bulk-mixed-case-value-777",
        "clash-log-level": "clash-value-123456",
        "one-x-y": "one-value-123456",
        "two-x-y": "two-value-123456",
        "bad-9lives": "bad-value-123456",
        "not-cert": {"value": "plain-not-a-cert-value", "content_type": "text/plain"},
        **AWKWARD,
    }
    for name, made in certificates().items():
        secrets[name] = {"value": made.value, "content_type": made.content_type}
    return {
        "tenants": {TENANT: {"apps": {APP: {"secrets": [APP_SECRET]}}}},
        "vaults": {
            "shapes": {"tenant": TENANT, "grants": [{"app": APP, "scope": "vault"}], "secrets": secrets},
            "narrow": {
                "tenant": TENANT,
                "grants": [{"app": APP, "secrets": ["app-one"]}],
                "secrets": {"app-one": "narrow-value-111", "app-two": "narrow-value-222"},
            },
        },
    }


@dataclass
class Shapes:
    emu: Emulator
    tmp: Path
    environ: dict[str, str]

    def text(self, body: str, *, vault: str = "shapes") -> str:
        return (
            "version: 1\nimage:\n  from: alpine:3\ncredentials:\n  kv:\n    provider: azure-key-vault\n"
            f"    vault_url: {self.emu.vault_url(vault)}\n    tenant_id: {TENANT}\n    client_id: {APP}\n"
            "    client_secret: ${SHAPES_SECRET}\n    default: true\n"
            + textwrap.dedent(body).strip("\n")
            + "\n"
        )

    def manifest(self, body: str, *, vault: str = "shapes", name: str = "baker.yaml") -> Manifest:
        """Write a manifest (the credentials block, then `body`: env / env_from YAML) and load it."""
        path = self.tmp / name
        path.write_text(self.text(body, vault=vault), encoding="utf-8")
        return load(path, environ=self.environ)

    def list_requests(self, vault: str = "shapes") -> int:
        host = f"{vault}.vault.localhost"
        return sum(
            1
            for r in self.emu.requests()
            if r.host == host and r.path.split("?")[0].rstrip("/") == "/secrets" and r.status == 200
        )


@pytest.fixture(name="shapes")
def shapes_fixture(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Shapes]:
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()
    emu = emulator_factory(world())
    env = emu.client_env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SHAPES_SECRET", APP_SECRET)
    yield Shapes(emu, tmp_path, {**env, "SHAPES_SECRET": APP_SECRET})
    http_challenge_cache.clear()

"""The demo world (the README's emulator section), used when no world file is given.
examples/world.yaml is the same world as a file; a test keeps the two equal."""

from __future__ import annotations

from typing import Any

TENANT = "6f1c0d2e-7a3b-4c5d-9e8f-0a1b2c3d4e5f"
CLIENT_ID = "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"
CLIENT_SECRET = "demo-client-secret-Q7v2"  # noqa: S105 - a published demo value
VAULT = "demo"
LEGACY_V1 = "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c"

DEMO_WORLD: dict[str, Any] = {
    "tenants": {TENANT: {"apps": {CLIENT_ID: {"secrets": [CLIENT_SECRET]}}}},
    "vaults": {
        VAULT: {
            "tenant": TENANT,
            "model": "rbac",
            "grants": [{"app": CLIENT_ID, "scope": "vault"}],
            "secrets": {
                "openai-api-key": "sk-demo-4f9a1c2e7b",
                "database-credentials": '{"username": "app", "password": "p@ss w0rd$#\\"q", "port": 5432}',
                "db-password": "hunter2-demo-pw",
                "legacy-key": [
                    {"value": "legacy-v1-value", "version": LEGACY_V1},
                    {"value": "legacy-v2-value"},
                ],
                "tls-key": "-----BEGIN DEMO KEY-----\nMIIBdemo...\n-----END DEMO KEY-----\n",
                # examples/shapes.yaml: a set by prefix (`env_from`), and a certificate
                "app-feature-flags": "beta,dark-mode",
                "app-smtp-password": "smtp-demo-pw-8c1e",
            },
            "certificates": {"web-tls": {"key": "ec", "format": "pkcs12", "subject": "web.demo.test"}},
        }
    },
}

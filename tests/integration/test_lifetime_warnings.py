"""render and build warn, like test-connection, about a referenced secret that expires soon, has
expired, or is not valid yet: Key Vault still serves it, so the bake goes on, but a person should know."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from baker.cli import main
from tests.support.fixtures_emulator import EmulatorFactory, small_world

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"


def test_render_warns_about_expiring_expired_and_not_yet_valid_secrets_and_still_renders(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    secrets = {
        "soon": {"value": "expiring-value-1", "exp": (now + timedelta(days=3)).isoformat()},
        "gone": {"value": "expired-value-22", "exp": (now - timedelta(days=3)).isoformat()},
        "later": {"value": "future-value-333", "nbf": (now + timedelta(days=1)).isoformat()},
        "fine": "healthy-value-4444",
    }
    world = small_world(
        tenant=TENANT,
        apps={APP: "client-secret-for-warnings"},
        vaults={"warn": {"grants": [{"app": APP, "scope": "vault"}], "secrets": secrets}},
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "client-secret-for-warnings")
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        f"""\
version: 1
image: {{from: "base:1"}}
credentials:
  main: {{provider: azure-key-vault, vault_url: "{emu.vault_url("warn")}", tenant_id: {TENANT},
          client_id: {APP}, client_secret: "${{AZURE_CLIENT_SECRET}}", default: true}}
env:
  SOON: {{secret: soon}}
  GONE: {{secret: gone}}
  LATER: {{secret: later}}
  FINE: {{secret: fine}}
"""
    )
    assert main(["render", "-f", str(manifest), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "SOON: the secret soon expires on" in err
    assert "GONE: the secret gone expired on" in err
    assert "LATER: the secret later is not valid before" in err
    assert "FINE" not in err
    assert (tmp_path / "out" / "docker-bake.json").exists()

"""`auth: azure-cli` through the REAL Azure CLI (PyPI `azure-cli`) signed in to the emulator.

OPT-IN, and NOT part of CI's required set: it runs only with BAKER_TEST_AZ=1 (and then `az` must be on
the PATH, or it fails); without BAKER_TEST_AZ=1 it skips, CI=true or not, because the azure-cli
package is large and slow to install.  CI covers `azure-cli-not-signed-in` with no `az` at all
(tests/integration/test_keyless_diagnoses.py).  Run it (README, Development):

    python3 -m venv /tmp/azvenv && /tmp/azvenv/bin/pip install azure-cli
    BAKER_TEST_AZ=1 PATH=/tmp/azvenv/bin:$PATH .venv/bin/pytest tests/integration/test_keyless_azure_cli.py

What it does: a private AZURE_CONFIG_DIR; a custom cloud whose Entra endpoint is the emulator's
(`--skip-endpoint-discovery`: there is no ARM metadata endpoint to read);
`az config set core.instance_discovery=false`; `az login --service-principal ...
--skip-subscription-discovery` with the demo app's client secret (az keeps it in its config dir,
baker never sees it); then baker renders a value with `auth: azure-cli`, azure-identity's
AzureCliCredential running `az account get-access-token`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, DEMO_WORLD, TENANT

pytestmark = pytest.mark.emulator

OPTED_IN = os.environ.get("BAKER_TEST_AZ") == "1"


def az(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["az", *args, "--only-show-errors"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, (args[:2], result.stderr[-2000:])
    return result


@pytest.mark.skipif(not OPTED_IN, reason="opt-in: set BAKER_TEST_AZ=1 with azure-cli's az on the PATH")
def test_render_signs_in_through_the_real_azure_cli(
    tmp_path: Path,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert shutil.which("az"), "BAKER_TEST_AZ=1 but no `az` on the PATH"
    config_dir = tmp_path / "azure"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "MSI_", "IDENTITY_"))},
        "AZURE_CONFIG_DIR": str(config_dir),
        "REQUESTS_CA_BUNDLE": str(emulator.ca_bundle),
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
    }
    az(
        "cloud",
        "register",
        "--name",
        "BakerEmulator",
        "--skip-endpoint-discovery",  # no ARM metadata endpoint to ask: the emulator is Entra + Key Vault
        "--endpoint-active-directory",
        emulator.authority_host,
        "--endpoint-active-directory-resource-id",
        f"https://management.localhost:{emulator.port}/",
        "--endpoint-resource-manager",
        f"https://management.localhost:{emulator.port}/",
        "--suffix-keyvault-dns",
        f".vault.localhost:{emulator.port}",
        env=env,
    )
    az("cloud", "set", "--name", "BakerEmulator", env=env)
    az("config", "set", "core.instance_discovery=false", env=env)
    az(
        "login",
        "--service-principal",
        "--username",
        CLIENT_ID,
        "--password",
        CLIENT_SECRET,
        "--tenant",
        TENANT,
        "--allow-no-subscriptions",
        "--skip-subscription-discovery",
        env=env,
    )
    for name in [k for k in os.environ if k.startswith("AZURE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage: {from: busybox}\ncredentials:\n  me:\n    provider: azure-key-vault\n"
        f"    vault_url: {emulator.vault_url('demo')}\n    auth: azure-cli\n    tenant_id: {TENANT}\n"
        "    default: true\nenv:\n  OPENAI_API_KEY: {secret: openai-api-key}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code = main(["render", "-f", str(manifest), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    args = json.loads((out / "docker-bake.json").read_text(encoding="utf-8"))["target"]["default"]["args"]
    assert list(args.values()) == [DEMO_WORLD["vaults"]["demo"]["secrets"]["openai-api-key"]]
    assert CLIENT_SECRET not in captured.out + captured.err
    assert "login.localhost" in {r.host for r in emulator.requests()}

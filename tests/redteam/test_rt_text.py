"""Red-team reproductions for issue 9 I (log and terminal injection), on the CI system baker ships
a template for besides GitHub Actions: the Azure Pipelines agent acts on a logging command
`##vso[...]` found ANYWHERE in a line of a step's stdout or stderr (azure-pipelines-agent
`Command.TryParse`: `message.IndexOf("##vso[")`), not only at a line's start as GitHub's runner
does.  baker's defence (`output._terminal_safe`, `output.untrusted`) only breaks a leading `::`.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_build_inregistry import inregistry_manifest, vault
from tests.integration.test_untrusted_text_escaped import APP, CLIENT_SECRET, TENANT, _baker, _env, _manifest
from tests.support import oci_bases
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.oci_bases import OCI_INDEX, StartRegistry, push_base

__all__ = ["vault"]
registries = oci_bases.registries  # the fixture

VSO = "##vso[task.setvariable variable=BAKER_PWNED]owned"


def _azure_commands(output: bytes) -> list[str]:
    """Lines the Azure Pipelines agent would run as logging commands."""
    return [line for line in output.decode("utf-8", errors="replace").splitlines() if "##vso[" in line]


@pytest.fixture
def vso_emulator(emulator_factory: EmulatorFactory) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={
            "hostile": {
                "grants": [{"app": APP, "scope": "vault"}],
                "secrets": {
                    "plain": "a-plain-value-1234",
                    "typed": {"value": "a-typed-value-5678", "content_type": f"text/plain {VSO}"},
                },
            }
        },
    )
    return emulator_factory(world)


@pytest.mark.emulator
@pytest.mark.parametrize("json_mode", [[], ["--json"]], ids=["human", "json"])
def test_secrets_list_never_prints_an_azure_pipelines_logging_command(
    json_mode: list[str], vso_emulator: Emulator, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path / "baker.yaml", vso_emulator, "  A: {secret: plain}\n")
    run = _baker(["secrets", "list", "-f", str(manifest), *json_mode], _env(vso_emulator))
    assert run.returncode == 0, run.stderr
    assert _azure_commands(run.stdout) == []
    assert _azure_commands(run.stderr) == []


@pytest.mark.docker
@pytest.mark.emulator
def test_in_registry_prints_a_hostile_platform_name_escaped(
    registries: StartRegistry, vault: Emulator, tmp_path: Path
) -> None:
    registry = registries()
    base = push_base(registry.api, "team/app", attestation=False)
    raw, _ = registry.api.manifest("team/app", base.ref.rsplit(":", 1)[1])
    index: dict[str, Any] = json.loads(raw)
    index["manifests"][0]["platform"]["os"] = f"linux\npushed registry.example.com/app:prod (sha256:0) {VSO}"
    registry.api.put_manifest("team/app", "hostile", json.dumps(index).encode(), OCI_INDEX)
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, f"{registry.host}/team/app:hostile")
    run = _baker(
        ["build", "--in-registry", "-f", str(manifest), "--tag", f"{registry.host}/team/app:out"], {}
    )
    assert run.returncode == 0, run.stderr
    for output in (run.stdout, run.stderr):
        assert _azure_commands(output) == []
        assert not any(
            line.startswith("pushed registry.example.com") for line in output.decode().splitlines()
        )

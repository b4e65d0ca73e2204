"""A fleet for the fleet tests: an emulator with two identities and two vaults, a base image in Debian's
docker-registry on 127.0.0.1, and three manifests sharing secrets, each with its own image.tag there.

    services/a  credential `prod`   (app one, vault fleet): SHARED, ONLY_A
    services/b  credential `main`   (app one again, another name): SHARED, ONLY_B
    services/c  credential `prod`   ONLY_B, and `ops` (app two, vault ops): OPS
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from baker.cli import main
from baker.emulator import Emulator
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import write_manifest

TENANT = "11111111-2222-3333-4444-555555555555"
APP_ONE = "aaaaaaaa-0000-4000-8000-000000000001"
APP_TWO = "aaaaaaaa-0000-4000-8000-000000000002"
SECRET_ONE = "fleet-client-secret-one-5d1e"
SECRET_TWO = "fleet-client-secret-two-8c2f"
VALUES = {
    "fleet-shared": "fleet-shared-value-91ab",
    "fleet-only-a": "fleet-only-a-value-27cd",
    "fleet-only-b": "fleet-only-b-value-38ef",
    "fleet-ops": "fleet-ops-value-4a12",
}
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


def fleet_emulator(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP_ONE: SECRET_ONE, APP_TWO: SECRET_TWO},
        vaults={
            "fleet": {
                "grants": [{"app": APP_ONE, "scope": "vault"}],
                "secrets": {k: v for k, v in VALUES.items() if k != "fleet-ops"},
            },
            "ops": {
                "grants": [{"app": APP_TWO, "scope": "vault"}],
                "secrets": {"fleet-ops": VALUES["fleet-ops"]},
            },
        },
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLEET_SECRET_ONE", SECRET_ONE)
    monkeypatch.setenv("FLEET_SECRET_TWO", SECRET_TWO)
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()  # each test meets its vaults' challenges itself
    return emu


def push_base(docker_client: Any, busybox_base: str, registry: str, image_names: ImageNames) -> str:
    """The busybox base, pushed by the engine into `registry`; its local name removed at the end."""
    name = f"{registry}/fleet-base-{uuid.uuid4().hex[:8]}:1"
    docker_client.api.tag(busybox_base, name)
    image_names.names.append(name)
    for _ in docker_client.api.push(name, stream=True, decode=True):
        pass
    return name


def _credential(name: str, emu: Emulator, vault: str, app: str, variable: str) -> str:
    return (
        f"  {name}:\n    provider: azure-key-vault\n    vault_url: {emu.vault_url(vault)}\n"
        f"    tenant_id: {TENANT}\n    client_id: {app}\n    client_secret: ${{{variable}}}\n"
    )


@dataclass
class Fleet:
    emu: Emulator
    registry: str
    root: Path  # services/
    tags: dict[str, str] = field(default_factory=dict)  # a, b, c -> image.tag
    printed: list[str] = field(default_factory=list)

    def file(self, name: str) -> Path:
        return self.root / name / "baker.yaml"

    def run(self, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capfd.readouterr()
        self.printed.append(captured.out + captured.err)
        for value in [*VALUES.values(), SECRET_ONE, SECRET_TWO]:
            assert value not in captured.out and value not in captured.err, "a value was printed"
        return code, captured.out, captured.err

    def json(self, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
        code, out, _ = self.run(capfd, *argv, "--json")
        return code, json.loads(out)

    def digest(self, service: str) -> str | None:
        host, _, rest = self.tags[service].partition("/")
        repository, _, tag = rest.rpartition(":")
        return manifest_digest(host, repository, tag)

    def vault_reads(self) -> list[tuple[str, str, int]]:
        """(vault, path, status) of every secret request the vaults answered (not the challenges)."""
        return [
            (r.host.split(".")[0], r.path.rstrip("/"), r.status)
            for r in self.emu.requests()
            if ".vault." in r.host and r.status != 401
        ]

    def token_requests(self) -> int:
        return sum(1 for r in self.emu.requests() if r.method == "POST" and r.path.endswith("/token"))


def manifest_digest(host: str, repository: str, reference: str) -> str | None:
    response = requests.get(
        f"http://{host}/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT}, timeout=10
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return str(response.headers["Docker-Content-Digest"])


def put_tag(host: str, repository: str, source: str, tag: str) -> None:
    """Another tag for what `source` names (a release tag someone keeps), over the registry API."""
    response = requests.get(
        f"http://{host}/v2/{repository}/manifests/{source}", headers={"Accept": ACCEPT}, timeout=10
    )
    response.raise_for_status()
    put = requests.put(
        f"http://{host}/v2/{repository}/manifests/{tag}",
        data=response.content,
        headers={"Content-Type": response.headers["Content-Type"]},
        timeout=10,
    )
    assert put.status_code == 201, put.text


def make_fleet(emu: Emulator, registry: str, base: str, root: Path) -> Fleet:
    fleet = Fleet(emu, registry, root)
    suffix = uuid.uuid4().hex[:8]
    creds = {
        "a": _credential("prod", emu, "fleet", APP_ONE, "FLEET_SECRET_ONE") + "    default: true\n",
        "b": _credential("main", emu, "fleet", APP_ONE, "FLEET_SECRET_ONE") + "    default: true\n",
        "c": _credential("prod", emu, "fleet", APP_ONE, "FLEET_SECRET_ONE")
        + "    default: true\n"
        + _credential("ops", emu, "ops", APP_TWO, "FLEET_SECRET_TWO"),
    }
    env = {
        "a": "  LOG_LEVEL: info\n  SHARED:\n    secret: fleet-shared\n  ONLY_A:\n    secret: fleet_only_a\n",
        "b": "  SHARED:\n    secret: fleet-shared\n  ONLY_B:\n    secret: fleet-only-b\n",
        "c": "  ONLY_B:\n    secret: fleet-only-b\n  OPS:\n    secret: fleet-ops\n    credential: ops\n",
    }
    for name in ("a", "b", "c"):
        fleet.tags[name] = f"{registry}/fleet-{suffix}-{name}:baked"
        path = fleet.file(name)
        path.parent.mkdir(parents=True)
        write_manifest(path, base=base, tag=fleet.tags[name], credentials=creds[name], env=env[name])
    # Not manifests of this fleet: skipped when a directory is named.
    for skipped in (".git", "node_modules", ".venv"):
        (root / "a" / skipped).mkdir()
        (root / "a" / skipped / "baker.yaml").write_text("not: a manifest\n", encoding="utf-8")
    return fleet


Runner = Callable[..., tuple[int, str, str]]

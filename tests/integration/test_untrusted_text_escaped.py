"""Text that comes from an image or from Key Vault is printed escaped: a provenance label or a
content type holding a newline then `::error::...` (a GitHub Actions workflow command), an ESC
sequence, or a lone surrogate must neither become a line of its own, reach the terminal raw, nor
crash the command.

baker runs as a subprocess with pipes (a real, strict UTF-8 stdout), against a real engine and the
emulator over TLS.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.provenance import LABEL
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "untrusted-text-client-secret-1"
HOSTILE = "x\n::error::pwned\r\n::add-mask::hidden\x1b[2J\x1b]0;title\x07\x9b31m\u202eevil\udc80"


def _baker(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "baker", *args],
        env={**os.environ, **env, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        timeout=120,
        check=False,
    )


def _unsafe(output: bytes) -> list[str]:
    """What a CI log or a terminal would act on in `output`."""
    text = output.decode("utf-8", errors="strict")  # a lone surrogate cannot even be encoded
    found = [f"line {line!r}" for line in text.splitlines() if line.lstrip().startswith("::")]
    found += [f"character {c!r}" for c in ("\x1b", "\x07", "\x9b", "\u202e", "\r") if c in text]
    return found


@pytest.fixture
def hostile_emulator(emulator_factory: EmulatorFactory) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={
            "hostile": {
                "grants": [{"app": APP, "scope": "vault"}],
                "secrets": {
                    "plain": "a-plain-value-1234",
                    "typed": {"value": "a-typed-value-5678", "content_type": HOSTILE},
                },
            }
        },
    )
    return emulator_factory(world)


def _manifest(path: Path, emu: Emulator, env: str, *, base: str = "unused:1") -> Path:
    credential = azure_credential(emu.vault_url("hostile"), TENANT, APP, client_secret=None)
    return write_manifest(path, base=base, credentials={"hostile": credential}, env=env)


def _env(emu: Emulator) -> dict[str, str]:
    return {**emu.client_env(), "AZURE_CLIENT_SECRET": CLIENT_SECRET}


@pytest.mark.parametrize("json_mode", [[], ["--json"]], ids=["human", "json"])
def test_secrets_list_prints_a_hostile_content_type_escaped(
    json_mode: list[str], hostile_emulator: Emulator, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path / "baker.yaml", hostile_emulator, "  A: {secret: plain}\n")
    run = _baker(["secrets", "list", "-f", str(manifest), *json_mode], _env(hostile_emulator))
    assert run.returncode == 0, run.stderr
    assert _unsafe(run.stdout) == []
    assert _unsafe(run.stderr) == []
    if json_mode:
        rows = {r["name"]: r for r in json.loads(run.stdout)["secrets"]}
        assert rows["typed"]["content_type"] == HOSTILE  # the JSON document keeps the exact text
    else:
        assert "x\\n::error::pwned" in run.stdout.decode()


def _hostile_image(client: Any, base: str, tag: str, emu: Emulator) -> None:
    """An image whose provenance label was written by someone else: env names, a vault URL and a
    secret name that carry workflow commands and terminal escapes."""
    record = {
        "v": 1,
        "credentials": {"hostile": {"vault_url": f"https://evil{HOSTILE}.example"}},
        "env": {
            "MOVED": {"ref": "plain", "credential": "hostile", "version": "v1"},
            "RENAMED": {
                "ref": "plain",
                "secret": f"other{HOSTILE}",
                "credential": "hostile",
                "version": "v1",
            },
            f"GONE{HOSTILE}": {"literal": True},
        },
    }
    dockerfile = f"FROM {base}\n".encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    label = json.dumps(record)  # ASCII: the escapes travel as JSON escapes
    for _ in client.api.build(fileobj=context, custom_context=True, tag=tag, labels={LABEL: label}, rm=True):
        pass
    assert client.api.inspect_image(tag)["Config"]["Labels"][LABEL] == label


@pytest.mark.parametrize("json_mode", [[], ["--json"]], ids=["human", "json"])
def test_check_prints_hostile_label_contents_escaped(
    json_mode: list[str],
    hostile_emulator: Emulator,
    busybox_base: str,
    docker_client: Any,
    image_names: ImageNames,
    tmp_path: Path,
) -> None:
    tag = image_names("hostile")
    _hostile_image(docker_client, busybox_base, tag, hostile_emulator)
    env = "  MOVED: {secret: plain}\n  RENAMED: {secret: plain}\n"
    manifest = _manifest(tmp_path / "baker.yaml", hostile_emulator, env)
    run = _baker(["check", "-f", str(manifest), "--image", tag, *json_mode], _env(hostile_emulator))
    assert run.returncode == 3, run.stderr  # changed and removed: a re-bake is due
    assert _unsafe(run.stdout) == []
    assert _unsafe(run.stderr) == []
    if json_mode:
        entries = {e["env"]: e["status"] for e in json.loads(run.stdout)["entries"]}
        assert entries[f"GONE{HOSTILE}"] == "removed"
    else:
        assert "GONEx\\n::error::pwned" in run.stdout.decode()

"""`files:` baked by the engine bake (a config edit): the layer goes into the archive the engine
loads, on both load routes (config only, and the base's layers streamed in); a container of the
result reads each file with its mode, owner and bytes; `docker history --no-trunc` and `docker image
inspect` name the paths and hold no value; a failed bake leaves no image holding the layer."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.image.bake import bake
from baker.model import EnvEntry, FileEntry, ImageSpec, LiteralValue, Manifest, SecretRef
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest

pytestmark = [pytest.mark.docker, pytest.mark.emulator]

ENGINE = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
FILES = {
    "/run/secrets/tls.pem": (
        "-----BEGIN PRIVATE KEY-----\nCANARYENGFILE1abc\r\nCANARYENGFILE2def\n-----END PRIVATE KEY-----\n",
        0o400,
        1000,
        0,
    ),
    "/etc/app/odd.txt": ("  CANARY-engfile 'q' \"dq\" $HOME \\b #h =e\ttab\r\nü😀 end  ", 0o440, 0, 5),
}
LISTED = {"/run/secrets/tls.pem": "-r--------", "/etc/app/odd.txt": "-r--r-----"}


def _manifest(base: str) -> Manifest:
    return Manifest(
        path="baker.yaml",
        image=ImageSpec(base=base, build=None),
        credentials={},
        env=(EnvEntry("PLAIN", LiteralValue("an env literal")),),
        files=tuple(
            FileEntry(path, _ref(path), mode, uid, gid) for path, (_, mode, uid, gid) in FILES.items()
        ),
    )


def _ref(path: str) -> SecretRef:
    """A stand-in reference (the values are handed to `bake` as resolved: no vault here)."""
    name = path.strip("/").replace("/", "-").replace(".", "-")
    return SecretRef(written=name, name=name, key=None, version=None, credential="kv")


def _resolved(values: Mapping[str, tuple[str, int, int, int]]) -> ResolvedEnv:
    return ResolvedEnv(
        (Resolved("PLAIN", Secret("an env literal"), LiteralValue("an env literal"), None, None),),
        files=tuple(Resolved(path, Secret(v[0]), _ref(path), "v1", None) for path, v in values.items()),
    )


def _leaks(text: str) -> list[str]:
    needles = {line.strip() for value, *_ in FILES.values() for line in value.replace("\r", "").split("\n")}
    return sorted(n for n in needles if len(n) >= 8 and n in text)


def _docker(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", "--host", ENGINE, *args], capture_output=True, timeout=120, check=False)


@pytest.mark.parametrize("full_layers", [False, True], ids=["config-only", "layers-streamed"])
def test_the_engine_bake_adds_the_files_layer_and_a_container_reads_each_file(
    full_layers: bool, busybox_base: str, image_names: ImageNames, docker_client: Any
) -> None:
    name = image_names("files-engine", "full" if full_layers else "lean")
    lines: list[str] = []
    result = bake(
        _manifest(busybox_base), _resolved(FILES), tags=[name], push=False, on_line=lines.append,
        client=docker_client, full_layers=full_layers,
    )  # fmt: skip
    image_names.track(result.image_id)
    assert _leaks("\n".join(lines)) == []
    base = docker_client.api.inspect_image(busybox_base)
    baked = docker_client.api.inspect_image(name)
    assert baked["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    assert len(baked["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    listing = _docker("run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "/bin/ls", name,
                      "-lnd", *FILES, "/run", "/run/secrets", "/etc/app", "/tmp")  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[-1]: line.split() for line in listing.stdout.decode().splitlines()}
    for path, (value, _, uid, gid) in FILES.items():
        assert rows[path][0] == LISTED[path] and rows[path][2:4] == [str(uid), str(gid)], rows[path]
        user = f"{uid}:{gid}"
        seen = _docker(
            "run", "--rm", "--network", "none", "--user", user, "--entrypoint", "/bin/cat", name, path
        )
        assert seen.returncode == 0 and seen.stdout == value.encode("utf-8"), path
    assert rows["/tmp"][0] == "drwxrwxrwt"  # the base's /tmp untouched (no file under it)
    refused = _docker("run", "--rm", "--network", "none", "--user", "1001", "--entrypoint", "/bin/cat", name,
                      "/run/secrets/tls.pem")  # fmt: skip
    assert refused.returncode != 0 and b"Permission denied" in refused.stderr
    history = _docker("history", "--no-trunc", "--format", "{{json .}}", name).stdout.decode()
    assert "baker: COPY /etc/app/odd.txt /run/secrets/tls.pem (values from Key Vault)" in history
    assert _leaks(history) == []
    inspected = _docker("image", "inspect", name).stdout.decode()
    assert _leaks(inspected) == []
    assert json.loads(inspected)[0]["Config"]["Env"][-1] == "PLAIN=an env literal"


def test_build_bakes_files_from_the_vault_and_check_names_a_rotated_one(
    emulator_factory: EmulatorFactory,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, app = "11111111-2222-3333-4444-555555555555", "99999999-8888-7777-6666-555555555555"
    client_secret = "CANARY-eng-client-secret-1"
    secrets = {"tls": FILES["/run/secrets/tls.pem"][0], "odd": FILES["/etc/app/odd.txt"][0]}
    emu = emulator_factory(
        small_world(tenant=tenant, apps={app: client_secret},
                    vaults={"eng": {"grants": [{"app": app, "scope": "vault"}], "secrets": secrets}})
    )  # fmt: skip
    for key, value in {**emu.client_env(), "AZURE_CLIENT_SECRET": client_secret}.items():
        monkeypatch.setenv(key, value)
    name = image_names("files-cli")
    manifest = write_manifest(
        tmp_path,
        base=busybox_base,
        credentials={"kv": azure_credential(emu.vault_url("eng"), tenant, app)},
        env={"PLAIN": "an env literal"},
        files={
            "/run/secrets/tls.pem": {"secret": "tls", "mode": "0400", "uid": 1000},
            "/etc/app/odd.txt": {"secret": "odd"},
        },
    )
    assert main(["build", "-f", str(manifest), "--tag", name, "--debug"]) == 0
    built = capfd.readouterr()
    assert _leaks(built.out + built.err) == []
    seen = _docker("run", "--rm", "--network", "none", "--user", "1000", "--entrypoint", "/bin/cat", name,
                   "/run/secrets/tls.pem")  # fmt: skip
    assert seen.stdout == secrets["tls"].encode("utf-8")
    assert main(["check", "-f", str(manifest), "--image", name, "--json"]) == 0
    capfd.readouterr()
    emu.set_secret("eng", "odd", "CANARY-eng-rotated-odd")
    assert main(["check", "-f", str(manifest), "--image", name, "--json"]) == 3
    entries = {
        e.get("file", e.get("env")): e["status"] for e in json.loads(capfd.readouterr().out)["entries"]
    }
    assert entries == {"PLAIN": "literal", "/run/secrets/tls.pem": "current", "/etc/app/odd.txt": "rotated"}

"""`files:` baked by `build --in-registry`: one small gzip layer (the files, their parent
directories, nothing else) on every platform, read back over the registry API, by `skopeo`, and
inside a container of the real engine (`skopeo copy` into it): mode, owner and bytes exact, no value
in the config, the history or any output; `check` names a rotated secret behind a file; a failed
bake deletes the layer it pushed."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from tests.redteam.proxy import proxies
from tests.support import oci_bases
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest
from tests.support.oci_bases import OCI_INDEX, USER, StartRegistry, push_base

__all__ = ["proxies"]  # the fixture
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

ENGINE = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")  # read before any fixture
TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "CANARY-files-client-secret-71c2"
SECRETS = {
    "files-pem": (
        "-----BEGIN PRIVATE KEY-----\nCANARYFILESKEY1abc\r\nCANARYFILESKEY2def\n-----END PRIVATE KEY-----\n"
    ),
    "files-odd": "  CANARY-files 'q' \"dq\" $HOME \\back\\ #h =e\ttab\r\nü😀 trailing  ",
    "files-json": json.dumps({"token": "CANARY-files-json-token-9f"}),
}
FILES: dict[str, Any] = {
    "/run/secrets/tls.pem": {"secret": "files-pem", "mode": "0400", "uid": 1000},
    "/etc/app/odd.txt": {"secret": "files-odd", "mode": "0440", "uid": 0, "gid": 5},
    "/etc/app/token": {"secret": "files-json#token"},
    "/etc/app/flag": "literal file text\n",
}
EXPECTED = {
    "/run/secrets/tls.pem": (SECRETS["files-pem"], "-r--------", 1000, 0),
    "/etc/app/odd.txt": (SECRETS["files-odd"], "-r--r-----", 0, 5),
    "/etc/app/token": ("CANARY-files-json-token-9f", "-r--r--r--", 0, 0),
    "/etc/app/flag": ("literal file text\n", "-r--r--r--", 0, 0),
}
DEAD_ENGINE = "tcp://127.0.0.1:9"
DENIED = (403, {"Content-Type": "application/json"}, b'{"errors":[{"code":"DENIED","message":"immutable"}]}')


def _forms(value: str) -> set[str]:
    forms = {value.strip(), json.dumps(value)[1:-1], base64.b64encode(value.encode()).decode()[:16]}
    forms.update(line.strip() for line in value.replace("\r", "").split("\n") if "CANARY" in line)
    return {f for f in forms if len(f) >= 8}


NEEDLES = set().union(*(_forms(v) for v in SECRETS.values()), _forms("CANARY-files-json-token-9f"))


def _leaks(text: str) -> list[str]:
    return sorted(n for n in NEEDLES if n in text)


@pytest.fixture
def vault(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={"files": {"grants": [{"app": APP, "scope": "vault"}], "secrets": SECRETS}},
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("DOCKER_HOST", DEAD_ENGINE)  # no engine on this path, ever
    return emu


def _manifest(path: Path, emu: Emulator, base: str, files: dict[str, Any] | None = None) -> Path:
    return write_manifest(
        path,
        base=base,
        credentials={"kv": azure_credential(emu.vault_url("files"), TENANT, APP)},
        env={"PLAIN": "an env literal"},
        files=FILES if files is None else files,
    )


def _bake(capfd: pytest.CaptureFixture[str], manifest: Path, tag: str) -> tuple[int, dict[str, Any], str]:
    code = main(["build", "--in-registry", "-f", str(manifest), "--tag", tag, "--json", "--debug"])
    captured = capfd.readouterr()
    return code, json.loads(captured.out), captured.out + captured.err


def _layer_members(blob: bytes) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    members = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        for member in tar:
            data = tar.extractfile(member)
            members[member.name] = (member, data.read() if data is not None else b"")
    return members


def test_files_are_one_layer_on_every_platform_with_nothing_else_and_no_value_elsewhere(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    registry = registries()
    base = push_base(registry.api, "files/app")
    tag = f"{registry.host}/files/app:baked"
    code, document, printed = _bake(capfd, _manifest(tmp_path / "baker.yaml", vault, base.ref), tag)
    assert code == 0, document
    assert _leaks(printed) == []
    index = json.loads(registry.api.manifest("files/app", "baked")[0])
    assert index["mediaType"] == OCI_INDEX
    layers = set()
    for entry in index["manifests"]:
        platform = f"{entry['platform']['os']}/{entry['platform']['architecture']}"
        manifest = json.loads(registry.api.manifest("files/app", entry["digest"])[0])
        digests = [layer["digest"] for layer in manifest["layers"]]
        assert digests[:-1] == base.layers[platform]  # the base's layers, then one more
        added = manifest["layers"][-1]
        assert added["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        layers.add(added["digest"])
        raw_config = registry.api.blob("files/app", manifest["config"]["digest"])
        assert _leaks(raw_config.decode("utf-8", errors="replace")) == []  # values are in the layer only
        config = json.loads(raw_config)
        blob = registry.api.blob("files/app", added["digest"])
        diff_id = "sha256:" + __import__("hashlib").sha256(gzip.decompress(blob)).hexdigest()
        assert config["rootfs"]["diff_ids"] == [*base.configs[platform]["rootfs"]["diff_ids"], diff_id]
        files_entry, env_entry = config["history"][-2:]
        assert "empty_layer" not in files_entry and env_entry["empty_layer"] is True
        assert files_entry["created_by"] == (
            "baker: COPY /etc/app/flag /etc/app/odd.txt /etc/app/token /run/secrets/tls.pem "
            "(values from Key Vault)"
        )
        members = _layer_members(blob)
        assert sorted(members) == sorted(
            [
                "etc",
                "etc/app",
                *sorted(p.lstrip("/") for p in FILES),
                "run",
                "run/secrets",
            ]
        )
        for path, (value, _, uid, gid) in EXPECTED.items():
            info, data = members[path.lstrip("/")]
            assert data == value.encode("utf-8")
            assert (info.uid, info.gid, info.uname, info.gname) == (uid, gid, "", "")
        for directory in ("etc", "etc/app", "run", "run/secrets"):
            info = members[directory][0]
            assert info.isdir() and (info.mode, info.uid, info.gid) == (0o755, 0, 0)
    assert len(layers) == 1  # one blob, named by every platform


def test_the_engine_runs_the_registry_baked_image_with_each_file_as_written(
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    image_names: ImageNames,
) -> None:
    registry = registries()
    base = push_base(registry.api, "files/run")
    tag = f"{registry.host}/files/run:baked"
    code, document, _ = _bake(capfd, _manifest(tmp_path / "baker.yaml", vault, base.ref), tag)
    assert code == 0, document
    name = image_names("files", "run")
    creds = f"{USER[0]}:{USER[1]}"
    copied = subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", "--src-creds", creds, "--dest-daemon-host", ENGINE,
         f"docker://{tag}", f"docker-daemon:{name}"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    engine_env = {**os.environ, "DOCKER_HOST": ENGINE}

    def docker_run(user: str, *command: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--user", user, "--entrypoint", command[0],
             name, *command[1:]],
            capture_output=True, timeout=120, env=engine_env, check=False,
        )  # fmt: skip

    listing = docker_run("0", "/bin/ls", "-lnd", *EXPECTED, "/run", "/run/secrets", "/etc/app")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[-1]: line.split() for line in listing.stdout.decode().splitlines()}
    for path, (value, mode, uid, gid) in EXPECTED.items():
        assert rows[path][0] == mode and (int(rows[path][2]), int(rows[path][3])) == (uid, gid), rows[path]
        assert int(rows[path][4]) == len(value.encode("utf-8"))
    for directory in ("/run", "/run/secrets", "/etc/app"):
        assert rows[directory][0] == "drwxr-xr-x" and rows[directory][2:4] == ["0", "0"]
    mine = docker_run("1000", "/bin/cat", "/run/secrets/tls.pem")  # uid 1000, mode 0400: readable
    assert mine.returncode == 0 and mine.stdout == EXPECTED["/run/secrets/tls.pem"][0].encode("utf-8")
    other = docker_run("1001", "/bin/cat", "/run/secrets/tls.pem")  # anyone else: refused
    assert other.returncode != 0 and b"Permission denied" in other.stderr
    for path, (value, *_) in EXPECTED.items():
        seen = docker_run("0", "/bin/cat", path)
        assert seen.returncode == 0 and seen.stdout == value.encode("utf-8"), path
    grouped = docker_run("1000:5", "/bin/cat", "/etc/app/odd.txt")  # gid 5, mode 0440: readable
    assert grouped.stdout == EXPECTED["/etc/app/odd.txt"][0].encode("utf-8")
    history = subprocess.run(
        ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}} {{.Comment}}", name],
        capture_output=True, text=True, timeout=60, env=engine_env, check=True,
    )  # fmt: skip
    assert "COPY /etc/app/flag /etc/app/odd.txt /etc/app/token /run/secrets/tls.pem" in history.stdout
    assert _leaks(history.stdout) == []
    inspected = subprocess.run(
        ["docker", "image", "inspect", name],
        capture_output=True,
        text=True,
        timeout=60,
        env=engine_env,
        check=True,
    )
    assert _leaks(inspected.stdout) == []


def test_check_names_a_rotated_secret_behind_a_file(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    registry = registries()
    base = push_base(registry.api, "files/check", platforms=("linux/amd64",), index=False)
    tag = f"{registry.host}/files/check:baked"
    manifest = _manifest(tmp_path / "baker.yaml", vault, base.ref)
    code, document, _ = _bake(capfd, manifest, tag)
    assert code == 0, document
    assert main(["check", "-f", str(manifest), "--image", tag, "--json"]) == 0
    fresh = json.loads(capfd.readouterr().out)
    statuses = {e.get("file", e.get("env")): e["status"] for e in fresh["entries"]}
    assert statuses == {
        "PLAIN": "literal",
        "/run/secrets/tls.pem": "current",
        "/etc/app/odd.txt": "current",
        "/etc/app/token": "current",
        "/etc/app/flag": "literal",
    }
    vault.set_secret("files", "files-pem", "CANARY-files-rotated-pem-value")
    assert main(["check", "-f", str(manifest), "--image", tag, "--json"]) == 3
    captured = capfd.readouterr()
    rotated = json.loads(captured.out)
    entry = next(e for e in rotated["entries"] if e.get("file") == "/run/secrets/tls.pem")
    assert entry["status"] == "rotated" and "env" not in entry
    assert rotated["stale"] is True
    assert "CANARY-files-rotated" not in captured.out + captured.err
    edited = _manifest(
        tmp_path / "edited.yaml", vault, base.ref, {**FILES, "/etc/app/flag": "another text\n"}
    )
    assert main(["check", "-f", str(edited), "--image", tag, "--json"]) == 3
    changed = json.loads(capfd.readouterr().out)
    flag = next(e for e in changed["entries"] if e.get("file") == "/etc/app/flag")
    assert flag["status"] == "changed"  # a literal file is compared with the text the record holds


def test_a_bake_refused_at_the_tag_deletes_the_files_layer_it_pushed(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    registry = registries(deletes=True)
    proxy = proxies(registry.host)
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    document: dict[str, Any] = json.loads(config.read_text())
    document["auths"][proxy.host] = {"auth": base64.b64encode(":".join(USER).encode()).decode()}
    config.write_text(json.dumps(document))
    base = push_base(registry.api, "files/undo", platforms=("linux/amd64",), index=False)
    manifest = _manifest(tmp_path / "baker.yaml", vault, base.ref)
    proxy.rewrite = lambda method, path: (
        DENIED if method == "PUT" and path.endswith("/manifests/baked") else path
    )
    code = main(["build", "--in-registry", "-f", str(manifest), "--tag", f"{proxy.host}/files/undo:baked"])
    captured = capfd.readouterr()
    assert code == 1, captured.err
    deleted = [line for line in captured.err.splitlines() if "deleted what this bake had pushed" in line]
    assert deleted and "files layer " in deleted[0], captured.err
    layer_digest = deleted[0].split("files layer ")[1].split(",")[0].split("@")[1]
    uploads = [path for method, path in proxy.seen if method == "PUT" and "/blobs/uploads/" in path]
    assert any(layer_digest.split(":")[1] in path for path in uploads)  # it was pushed, through the proxy
    response = registry.api.session.get(
        registry.api._url("files/undo", f"blobs/{layer_digest}"), auth=registry.api.auth, timeout=30
    )
    assert response.status_code == 404  # and deleted
    assert _leaks(captured.out + captured.err) == []

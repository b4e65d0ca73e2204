"""`baker build --in-registry` against Debian's docker-registry on 127.0.0.1 with an htpasswd login,
values from the emulator over TLS, and `DOCKER_HOST` pointing at nothing for the whole path.

Bases are made by the tests over the registry API (tests/integration/oci_bases.py); what baker wrote
is read back with a plain HTTP client, with `skopeo` (an independent client), and run in the real
engine after `skopeo copy` into it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from tests.support import oci_bases
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest
from tests.support.oci_bases import (
    BASE_CONFIG,
    DOCKER_CONFIG,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    USER,
    Api,
    Base,
    StartRegistry,
    push_base,
)

pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "inregistry-client-secret-5e6f"
SECRETS = {
    "PEM": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\n-----END PRIVATE KEY-----\n",
    "CRLF": "line one\r\nline two\r\n",
    "QUOTES": 'it\'s "quoted" `tick`',
    "DOLLAR": "$HOME ${PATH} $$ $1 $",
    "BACKSLASH": "C:\\path\\ \\n \\",
    "UNICODE": "héllo ✓ 日本語 😀 \U0001d518",
    "SPACES": "   padded both sides   ",
}
LITERALS = {"PATH": "/baked/bin:/bin", "EMPTY": ""}
EXPECTED = {**SECRETS, **LITERALS}
DEAD_ENGINE = "tcp://127.0.0.1:9"


def _secret_name(env: str) -> str:
    return "inreg-" + env.lower()


@pytest.fixture
def vault(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={
            "inreg": {
                "grants": [{"app": APP, "scope": "vault"}],
                "secrets": {_secret_name(k): v for k, v in SECRETS.items()},
            }
        },
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("DOCKER_HOST", DEAD_ENGINE)  # no engine on this path, ever
    return emu


def inregistry_manifest(path: Path, emu: Emulator, base: str, *, extra: dict[str, Any] | None = None) -> Path:
    """The vault's secrets and the literals (and `extra` entries) over `base`."""
    env: dict[str, Any] = {name: {"secret": _secret_name(name)} for name in SECRETS}
    credential = azure_credential(emu.vault_url("inreg"), TENANT, APP)
    return write_manifest(
        path, base=base, credentials={"kv": credential}, env={**env, **LITERALS, **(extra or {})}
    )


def bake(capsys: pytest.CaptureFixture[str], manifest: Path, *tags: str, extra: tuple[str, ...] = ()) -> Any:
    args = ["build", "--in-registry", "-f", str(manifest), "--json", *extra]
    for tag in tags:
        args += ["--tag", tag]
    code = main(args)
    document = json.loads(capsys.readouterr().out)
    return code, document


def _env(config: dict[str, Any]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in config["config"]["Env"])


def _forms(value: str) -> set[str]:
    raw = value.encode()
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms |= {base64.b64encode(raw).decode(), raw.hex()}
    forms |= {line.strip() for line in value.replace("\r", "").split("\n")}
    return {f for f in forms if len(f) >= 6}


def assert_baked_platform(
    api: Api, repo: str, manifest_digest: str, base: Base, platform: str
) -> dict[str, Any]:
    raw, content_type = api.manifest(repo, manifest_digest)
    manifest = json.loads(raw)
    base_manifest = json.loads(base.api.manifest(base.repo, base.platforms[platform])[0])
    assert content_type == base_manifest["mediaType"] == manifest["mediaType"]
    assert manifest["layers"] == base_manifest["layers"]  # the base's layers, by digest
    assert [layer["digest"] for layer in manifest["layers"]] == base.layers[platform]
    assert manifest["config"]["mediaType"] == base_manifest["config"]["mediaType"]
    config_bytes = api.blob(repo, manifest["config"]["digest"])
    assert manifest["config"]["size"] == len(config_bytes)
    config = json.loads(config_bytes)
    base_config = base.configs[platform]
    # Every value byte-exact; the base's PATH replaced; every other base variable kept.
    env = _env(config)
    assert {k: env[k] for k in EXPECTED} == EXPECTED
    assert env["BASE_ONLY"] == "kept as the base set it"
    names = [item.split("=", 1)[0] for item in config["config"]["Env"]]
    assert names == ["PATH", "PEM", "BASE_ONLY", *[n for n in EXPECTED if n not in ("PATH", "PEM")]]
    for key in ("Entrypoint", "Cmd", "WorkingDir", "User", "StopSignal"):
        assert config["config"][key] == BASE_CONFIG[key]
    assert config["config"]["Labels"]["org.example.base"] == "yes"
    assert "dev.baker.provenance" in config["config"]["Labels"]
    for key in ("architecture", "os", "rootfs", "x-unknown-field"):
        assert config[key] == base_config[key]
    assert config["created"] != base_config["created"]
    assert config["history"][:-1] == base_config["history"]
    last = config["history"][-1]
    assert last["empty_layer"] is True
    assert last["created_by"] == f"baker: ENV {' '.join(EXPECTED)} (values from Key Vault)"
    # No value anywhere outside Env, in any encoding.
    del config["config"]["Env"]
    outside = json.dumps(config) + json.dumps(config, ensure_ascii=False)
    for name, value in SECRETS.items():
        for form in _forms(value):
            assert form not in outside, name
    return config


def test_an_oci_index_base_is_baked_on_every_platform_with_its_layers_and_config_kept(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = registries()
    base = push_base(registry.api, "team/app")
    tag = f"{registry.host}/team/app:baked"
    code, document = bake(capsys, inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref), tag)
    assert code == 0, document
    assert document["platforms"] == ["linux/amd64", "linux/arm64"]
    assert document["tags"] == [tag]
    assert document["pushed"] == [{"tag": tag, "digest": document["digest"]}]
    assert registry.api.tag_digest("team/app", "baked") == document["digest"]
    raw, content_type = registry.api.manifest("team/app", "baked")
    index = json.loads(raw)
    assert content_type == index["mediaType"] == OCI_INDEX
    # The attestation entry (it vouches for the base's manifests) is dropped.
    assert [e["platform"] for e in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
    ]
    for entry, platform in zip(index["manifests"], ("linux/amd64", "linux/arm64"), strict=True):
        assert entry["size"] == len(registry.api.manifest("team/app", entry["digest"])[0])
        assert_baked_platform(registry.api, "team/app", entry["digest"], base, platform)
    # `check` reads the record back from the registry (index -> platform -> config label).
    assert main(["check", "-f", str(tmp_path / "baker.yaml"), "--image", tag, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stale"] is False
    # `--if-stale` sees it current, and moves nothing.
    code, skipped = bake(capsys, tmp_path / "baker.yaml", tag, extra=("--if-stale",))
    assert (code, skipped["skipped"]) == (0, True)
    assert registry.api.tag_digest("team/app", "baked") == document["digest"]


def test_a_docker_manifest_list_base_is_mounted_into_another_repository_and_copied_to_another_registry(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = registries(), registries()
    base = push_base(first.api, "base/app", kind="docker", attestation=False)
    tags = [f"{first.host}/other/app:v1", f"{second.host}/mirror/app:v1"]
    code, document = bake(capsys, inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref), *tags)
    assert code == 0, document
    assert [p["tag"] for p in document["pushed"]] == tags
    for api, repo in ((first.api, "other/app"), (second.api, "mirror/app")):
        assert api.tag_digest(repo, "v1") == document["digest"]
        raw, content_type = api.manifest(repo, "v1")
        index = json.loads(raw)
        assert content_type == index["mediaType"] == DOCKER_LIST
        for entry, platform in zip(index["manifests"], ("linux/amd64", "linux/arm64"), strict=True):
            assert entry["mediaType"] == DOCKER_MANIFEST
            config = assert_baked_platform(api, repo, entry["digest"], base, platform)
            assert config["architecture"] == platform.split("/")[1]
            for layer in base.layers[platform]:
                assert api.has_blob(repo, layer)
    manifest = json.loads(second.api.manifest("mirror/app", document["digest"])[0])
    platform_manifest = json.loads(second.api.manifest("mirror/app", manifest["manifests"][0]["digest"])[0])
    assert platform_manifest["config"]["mediaType"] == DOCKER_CONFIG


def test_a_single_manifest_base_gives_a_single_manifest(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = registries()
    base = push_base(registry.api, "single/app", platforms=("linux/amd64",), index=False)
    tag = f"{registry.host}/single/app:baked"
    code, document = bake(capsys, inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref), tag)
    assert code == 0, document
    assert document["platforms"] == ["linux/amd64"]
    raw, content_type = registry.api.manifest("single/app", "baked")
    assert json.loads(raw)["config"]["mediaType"] == OCI_CONFIG
    assert content_type != OCI_INDEX
    assert_baked_platform(registry.api, "single/app", document["digest"], base, "linux/amd64")


def _skopeo(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_skopeo_reads_the_baked_image_and_the_engine_runs_it_with_every_value(
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    image_names: ImageNames,
) -> None:
    registry = registries()
    base = push_base(registry.api, "run/app")
    tag = f"{registry.host}/run/app:baked"
    code, document = bake(capsys, inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref), tag)
    assert code == 0, document
    creds = f"{USER[0]}:{USER[1]}"
    raw = json.loads(_skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, f"docker://{tag}"))
    assert raw["mediaType"] == OCI_INDEX
    inspected = json.loads(_skopeo("inspect", "--tls-verify=false", "--creds", creds, f"docker://{tag}"))
    assert inspected["Digest"] == document["digest"]
    assert inspected["Architecture"] == "amd64"  # the index resolved to this machine's image
    assert {k: v for k, v in (item.split("=", 1) for item in inspected["Env"]) if k in EXPECTED} == EXPECTED
    assert inspected["Layers"] == base.layers["linux/amd64"]
    assert inspected["Labels"]["org.example.base"] == "yes"
    name = image_names("inregistry", "run")
    engine_env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    _skopeo(
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        creds,
        f"docker://{tag}",
        f"docker-daemon:{name}",
        env=engine_env,
    )
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", name],
        capture_output=True,
        timeout=120,
        env=engine_env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = dict(item.decode().split("=", 1) for item in result.stdout.split(b"\0") if item)
    assert {k: seen[k] for k in EXPECTED} == EXPECTED
    assert seen["BASE_ONLY"] == "kept as the base set it"


def test_a_missing_secret_leaves_the_tag_where_it_was(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = registries()
    base = push_base(registry.api, "team/app")
    tag = f"{registry.host}/team/app:baked"
    assert bake(capsys, inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref), tag)[0] == 0
    before = registry.api.tag_digest("team/app", "baked")
    broken = inregistry_manifest(
        tmp_path / "broken.yaml", vault, base.ref, extra={"GONE": {"secret": "inreg-missing"}}
    )
    code, document = bake(capsys, broken, tag)
    assert code == 1
    assert document["error"] == "ResolutionFailed"
    assert registry.api.tag_digest("team/app", "baked") == before


def test_a_refused_push_names_the_registry_and_leaves_the_tag_where_it_was(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writable = registries()
    base = push_base(writable.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    assert bake(capsys, manifest, f"{writable.host}/team/app:baked")[0] == 0
    before = writable.api.tag_digest("team/app", "baked")
    readonly = registries(readonly=True, storage_of=writable)  # the same repositories, no writes
    code, document = bake(
        capsys, manifest, f"{writable.host}/team/app:baked", f"{readonly.host}/team/app:baked"
    )
    assert code == 1, document
    assert document["error"] == "ImageError"
    assert readonly.host in document["message"]
    assert "refused" in document["message"]
    assert "read-only" in document["message"], document
    assert writable.api.tag_digest("team/app", "baked") == before  # the first target's tag did not move


def test_wrong_registry_credentials_name_the_registry_and_what_was_refused(
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = registries()
    base = push_base(registry.api, "team/app")
    empty = tmp_path / "no-login"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(empty))
    code, document = bake(
        capsys, inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref), f"{registry.host}/team/app:x"
    )
    assert code == 1
    assert document["message"] == (
        f"the registry {registry.host} refused access to team/app (HTTP 401)"
        " (no `docker login` credentials found for it)"
    )
    assert "docker login" in document["hint"]


def test_in_registry_with_image_build_but_no_push_target_is_a_usage_error_that_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", DEAD_ENGINE)
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(json.dumps({"version": 1, "image": {"build": {"context": "."}}, "env": {"A": "1"}}))
    code, document = bake(capsys, manifest, f"127.0.0.1:5000/app:{uuid.uuid4().hex[:6]}")
    assert code == 2
    assert "image.build" in document["message"]
    assert "image.build.push" in document["message"] and "image.build.push" in document["hint"]

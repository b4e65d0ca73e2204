"""What `baker build --in-registry` refuses to bake, against Debian's docker-registry on 127.0.0.1,
values from the emulator over TLS (issue 20, items 1, 2 and 9):

- a base whose JSON holds two keys that differ only in case in an object baker edits or trusts (the
  Go tools that copy and run images, Docker, containerd, skopeo and the registry, match keys
  case-insensitively and keep the LAST one: baker's edit of the first would be ignored, the base's
  values would run). Each base is first copied with skopeo into the real engine, which shows the later
  key's values: the premise is Go's reading, not ours;
- a value holding a NUL or a lone surrogate (no process environment can carry it), as `render` and
  the engine road refuse it: naming the variable, never the value, before anything is pushed;
- a base whose configs are over what registries and clients read, or whose platforms together are.

Bases are pushed by hand as raw bytes over the registry API (`oci_bases.Api`)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from baker.cli import main
from baker.emulator import Emulator
from tests.support import oci_bases
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.oci_bases import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    USER,
    Api,
    StartRegistry,
    busybox_layer,
)

pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "refusals-client-secret-7a8b"
DB_PASSWORD = "baked-db-Pa55-c4n4ry-9d1e"  # the canary: never in any output
FIRST = "DB_PASSWORD=first-key-base-value"  # what the key baker would edit holds in the base
LATER = "DB_PASSWORD=later-key-base-value"  # what the later case-variant key holds: what Go reads
DEAD_ENGINE = "tcp://127.0.0.1:9"


@pytest.fixture
def engine_env() -> dict[str, str]:
    """The environment for skopeo and docker, on this run's own engine (read before `vault` points
    DOCKER_HOST at nothing)."""
    return dict(os.environ)


@pytest.fixture
def vault(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={
            "refuse": {
                "grants": [{"app": APP, "scope": "vault"}],
                "secrets": {
                    "db-password": DB_PASSWORD,
                    "with-nul": "before\x00after-nul-c4n4ry",
                    "with-surrogate": "lone\ud800surrogate-c4n4ry",
                },
            }
        },
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("DOCKER_HOST", DEAD_ENGINE)  # no engine on baker's path, ever
    return emu


def write_manifest(path: Path, emu: Emulator, base: str, env: dict[str, Any] | None = None) -> Path:
    document = {
        "version": 1,
        "image": {"from": base},
        "credentials": {
            "kv": {
                "provider": "azure-key-vault",
                "vault_url": emu.vault_url("refuse"),
                "tenant_id": TENANT,
                "client_id": APP,
                "client_secret": "${AZURE_CLIENT_SECRET}",
                "default": True,
            }
        },
        "env": env if env is not None else {"DB_PASSWORD": {"secret": "db-password"}},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def bake(capsys: pytest.CaptureFixture[str], manifest: Path, tag: str) -> tuple[int, str, str]:
    code = main(["build", "--in-registry", "-f", str(manifest), "--tag", tag, "--debug"])
    out, err = capsys.readouterr()
    return code, out, err


def catalog(api: Api) -> list[str]:
    response = requests.get(f"http://{api.host}/v2/_catalog", auth=api.auth, timeout=30)
    assert response.status_code == 200, response.status_code
    return list(response.json()["repositories"])


def engine_env_of(image: str, engine: dict[str, str], names: ImageNames, src_tag: str) -> list[str]:
    """`skopeo copy` the image into the engine, then the engine's own reading of its Env."""
    name = names("refusal", uuid.uuid4().hex[:8])
    creds = f"{USER[0]}:{USER[1]}"
    # skopeo's docker-daemon transport ignores DOCKER_HOST: the engine is named to it.
    daemon = ["--dest-daemon-host", engine["DOCKER_HOST"]] if engine.get("DOCKER_HOST") else []
    copied = subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            creds,
            *daemon,
            f"docker://{src_tag}",
            f"docker-daemon:{name}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=engine,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Env}}", name],
        capture_output=True,
        text=True,
        timeout=60,
        env=engine,
        check=False,
    )
    assert inspected.returncode == 0, inspected.stderr
    return list(json.loads(inspected.stdout))


# --- bases with case-variant keys, as raw bytes ----------------------------------------------------


def _config(env: list[str], **extra: Any) -> dict[str, Any]:
    _, diff = busybox_layer()
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": env, "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff]},
        "history": [{"created_by": "ADD busybox"}],
        **extra,
    }


def _put_config(api: Api, repo: str, document: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(document).encode()
    return {"mediaType": OCI_CONFIG, "digest": api.put_blob(repo, raw), "size": len(raw)}


def _put_manifest(
    api: Api, repo: str, reference: str, config: dict[str, Any], **extra: Any
) -> tuple[str, int]:
    busybox, _ = busybox_layer()
    layer = {"mediaType": OCI_LAYER, "digest": api.put_blob(repo, busybox), "size": len(busybox)}
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer], **extra}
    raw = json.dumps(document).encode()
    return api.put_manifest(repo, reference, raw, OCI_MANIFEST), len(raw)


def case_variant_base(api: Api, repo: str, shape: str) -> str:
    """A base whose key baker edits holds FIRST and whose later case-variant key holds LATER."""
    tag = uuid.uuid4().hex[:10]
    if shape == "config.env":  # config.Env, then config.env
        config = _config([FIRST, "PATH=/bin"])
        config["config"]["env"] = [LATER, "PATH=/bin"]
        _put_manifest(api, repo, tag, _put_config(api, repo, config))
    elif shape == "Config":  # config, then a top-level Config
        config = _config([FIRST, "PATH=/bin"], Config={"Env": [LATER, "PATH=/bin"], "Cmd": ["sh"]})
        _put_manifest(api, repo, tag, _put_config(api, repo, config))
    elif shape == "manifest.Config":  # the manifest's config, then a Config descriptor
        first = _put_config(api, repo, _config([FIRST, "PATH=/bin"]))
        later = _put_config(api, repo, _config([LATER, "PATH=/bin"]))
        _put_manifest(api, repo, tag, first, Config=later)
    elif shape == "index.Digest":  # an index entry's digest, then its Digest
        first_digest, first_size = _put_manifest(
            api, repo, f"first-{tag}", _put_config(api, repo, _config([FIRST, "PATH=/bin"]))
        )
        later_digest, _ = _put_manifest(
            api, repo, f"later-{tag}", _put_config(api, repo, _config([LATER, "PATH=/bin"]))
        )
        entry = {
            "mediaType": OCI_MANIFEST,
            "digest": first_digest,
            "size": first_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "Digest": later_digest,
        }
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
        api.put_manifest(repo, tag, json.dumps(index).encode(), OCI_INDEX)
    elif shape == "config twice":  # the config object written twice: Go merges the two
        first = json.dumps(_config([FIRST, "PATH=/bin"]))
        later = json.dumps({"Env": [LATER, "PATH=/bin"]})
        raw = (first[:-1] + ',"config":' + later + "}").encode()
        descriptor = {"mediaType": OCI_CONFIG, "digest": api.put_blob(repo, raw), "size": len(raw)}
        _put_manifest(api, repo, tag, descriptor)
    else:
        raise AssertionError(shape)
    return f"{api.host}/{repo}:{tag}"


@pytest.mark.parametrize("shape", ["config.env", "Config", "manifest.Config", "index.Digest", "config twice"])
def test_a_base_with_a_later_case_variant_key_is_refused_naming_the_key_and_nothing_is_pushed(
    shape: str,
    engine_env: dict[str, str],
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    image_names: ImageNames,
) -> None:
    registry = registries()
    base = case_variant_base(registry.api, "base/app", shape)
    # The premise, read by the real tools: skopeo and the engine take the LATER key.
    env = engine_env_of(base, engine_env, image_names, base)
    assert LATER in env and FIRST not in env
    tag = f"{registry.host}/baked/app:v1"
    code, out, err = bake(capsys, write_manifest(tmp_path / "baker.yaml", vault, base), tag)
    assert code == 1, out + err
    key, why = {
        "config.env": ("`env`", "differ only in case"),
        "Config": ("`Config`", "differ only in case"),
        "manifest.Config": ("`Config`", "differ only in case"),
        "index.Digest": ("`Digest`", "differ only in case"),
        "config twice": ("`config`", "twice in one object"),
    }[shape]
    assert key in err and why in err, err
    assert "baked/app" not in catalog(registry.api)  # nothing pushed, no tag
    for text in (out, err):
        assert DB_PASSWORD not in text


def test_a_base_spelling_a_field_baker_edits_in_another_case_is_refused(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lone `Config` (no `config`): Go reads it as the config; baker would add its own `config`
    after it and the engines would merge the two, so baker refuses rather than guess."""
    registry = registries()
    api, repo, tag = registry.api, "base/app", uuid.uuid4().hex[:10]
    config = _config([FIRST, "PATH=/bin"])
    config["Config"] = config.pop("config")
    _put_manifest(api, repo, tag, _put_config(api, repo, config))
    target = f"{registry.host}/baked/app:v1"
    code, out, err = bake(
        capsys, write_manifest(tmp_path / "baker.yaml", vault, f"{api.host}/{repo}:{tag}"), target
    )
    assert code == 1, out + err
    assert "`Config`" in err and "`config`" in err
    assert "baked/app" not in catalog(registry.api)


def test_a_docker_base_whose_canonical_keys_differ_only_in_label_names_is_baked(
    engine_env: dict[str, str],
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    image_names: ImageNames,
) -> None:
    """Labels, annotations and exposed ports are maps: their keys are exact in Go (`A` and `a` are two
    labels), so a base carrying both is baked, and the engine runs the baked values."""
    registry = registries()
    api, repo, tag = registry.api, "base/app", uuid.uuid4().hex[:10]
    config = _config([FIRST, "PATH=/bin"])
    config["config"]["Labels"] = {"org.Example": "1", "org.example": "2"}
    raw = json.dumps(config).encode()
    descriptor = {"mediaType": DOCKER_CONFIG, "digest": api.put_blob(repo, raw), "size": len(raw)}
    busybox, _ = busybox_layer()
    layer = {"mediaType": DOCKER_LAYER, "digest": api.put_blob(repo, busybox), "size": len(busybox)}
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": descriptor, "layers": [layer]}
    api.put_manifest(repo, tag, json.dumps(manifest).encode(), DOCKER_MANIFEST)
    target = f"{registry.host}/baked/app:v1"
    code, out, err = bake(
        capsys, write_manifest(tmp_path / "baker.yaml", vault, f"{api.host}/{repo}:{tag}"), target
    )
    assert code == 0, out + err
    env = engine_env_of(target, engine_env, image_names, target)
    assert f"DB_PASSWORD={DB_PASSWORD}" in env and FIRST not in env


# --- values no environment can carry -----------------------------------------------------------------


@pytest.mark.parametrize(("secret", "what"), [("with-nul", "NUL"), ("with-surrogate", "lone surrogate")])
def test_a_value_no_environment_can_carry_is_refused_naming_the_variable_before_anything_is_pushed(
    secret: str,
    what: str,
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = registries()
    base = oci_bases.push_base(registry.api, "base/app", platforms=("linux/amd64",))
    env = {"DB_PASSWORD": {"secret": "db-password"}, "ODD_VALUE": {"secret": secret}}
    code, out, err = bake(
        capsys, write_manifest(tmp_path / "baker.yaml", vault, base.ref, env), f"{registry.host}/baked/app:v1"
    )
    assert code == 1, out + err
    assert "ODD_VALUE" in err and what in err
    assert catalog(registry.api) == ["base/app"]  # nothing pushed anywhere, no layer, no tag
    for text in (out, err):
        for canary in (DB_PASSWORD, "after-nul-c4n4ry", "surrogate-c4n4ry"):
            assert canary not in text


def test_render_and_the_in_registry_bake_refuse_a_value_with_the_same_words(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = registries()
    base = oci_bases.push_base(registry.api, "base/app", platforms=("linux/amd64",))
    manifest = write_manifest(tmp_path / "baker.yaml", vault, base.ref, {"ODD_VALUE": {"secret": "with-nul"}})
    assert main(["render", "-f", str(manifest), "--out", str(tmp_path / "out")]) == 1
    rendered = capsys.readouterr().err
    code, _, err = bake(capsys, manifest, f"{registry.host}/baked/app:v1")
    assert code == 1
    line = next(ln for ln in rendered.splitlines() if "ODD_VALUE" in ln)
    assert line.split("ODD_VALUE", 1)[1] in err


# --- sizes -------------------------------------------------------------------------------------------


def _padded_config(size: int) -> bytes:
    config = _config(["PATH=/bin"])
    config["x-padding"] = ""
    raw = json.dumps(config)
    return json.dumps({**config, "x-padding": "p" * (size - len(raw))}).encode()


def test_a_config_larger_than_registries_and_clients_read_is_refused(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = registries()
    api, repo, tag = registry.api, "base/app", uuid.uuid4().hex[:10]
    raw = _padded_config(4 * 1024 * 1024 + 1)
    descriptor = {"mediaType": OCI_CONFIG, "digest": api.put_blob(repo, raw), "size": len(raw)}
    _put_manifest(api, repo, tag, descriptor)
    code, out, err = bake(
        capsys,
        write_manifest(tmp_path / "baker.yaml", vault, f"{api.host}/{repo}:{tag}"),
        f"{registry.host}/baked/app:v1",
    )
    assert code == 1, out + err
    assert "larger than 4 MiB" in err
    assert "baked/app" not in catalog(registry.api)


def test_a_base_whose_platforms_together_hold_too_much_is_refused_before_reading_further(
    registries: StartRegistry, vault: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Twelve platforms of 3.5 MiB configs (each under the per-config cap): refused once what was
    read passes the total, without reading the rest."""
    registry = registries()
    api, repo, tag = registry.api, "base/app", uuid.uuid4().hex[:10]
    entries = []
    for i in range(12):
        raw = _padded_config(3 * 1024 * 1024 + 512 * 1024 + i)
        descriptor = {"mediaType": OCI_CONFIG, "digest": api.put_blob(repo, raw), "size": len(raw)}
        digest, size = _put_manifest(api, repo, f"p{i}-{tag}", descriptor)
        platform = {"architecture": "amd64", "os": "linux", "variant": f"v{i}"}
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": platform})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    api.put_manifest(repo, tag, json.dumps(index).encode(), OCI_INDEX)
    code, out, err = bake(
        capsys,
        write_manifest(tmp_path / "baker.yaml", vault, f"{api.host}/{repo}:{tag}"),
        f"{registry.host}/baked/app:v1",
    )
    assert code == 1, out + err
    assert "together" in err and "32 MiB" in err
    assert "linux/amd64/v9" in err  # the platform it stopped at: the ones after it were never read
    assert "baked/app" not in catalog(registry.api)

"""A base image's own ENV never wins over the manifest: every variable the base sets under a manifest
name (secrets, literals, `PATH`) is replaced byte for byte, every other base variable is kept, and
`check` / `build --if-stale` then see the image as current.

Real parts only: the emulator over TLS with the unmodified SDK, a real Docker engine, and a base
made FROM the `docker import`ed busybox with ENV instructions of its own."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.image import engine
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest
from baker.render import render
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest

pytestmark = pytest.mark.docker

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "base-env-client-secret-4b1d"

# Secrets from the vault, each one awkward, each one also set (to something else) by the base.
SECRET_VALUES = {
    "DB_PASSWORD": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
    "-----END PRIVATE KEY-----\n",
    "CRLF": "line one\r\nline two\r\n",
    "QUOTES": 'it\'s "quoted" `tick`',
    "DOLLAR": "$HOME ${PATH} ${DB_PASSWORD} $$ $1 $",
    "BACKSLASH": "C:\\path\\ \\n \\",
    "UNICODE": "héllo ✓ 日本語 😀 \U0001d518",
    "SPACES": "   padded both sides   ",
    "lower_case": "lower-case name, secret value",
}
# Literals from the manifest, also set (to something else) by the base.
LITERALS = {
    "LOG_LEVEL": "info",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "EMPTY": "",
    "OTHER_REF": "${LOG_LEVEL} $PATH ${EMPTY:-x}",
}
BASE_ENV = {
    **{name: f"base-{name}" for name in SECRET_VALUES},
    "LOG_LEVEL": "debug",
    "PATH": "/base/bin:/bin",
    "EMPTY": "base-not-empty",
    "OTHER_REF": "base-other",
    "BASE_ONLY": "kept as the base set it",
}
EXPECTED = {**SECRET_VALUES, **LITERALS}


def _secret_name(env: str) -> str:
    return "s-" + env.lower().replace("_", "-")


@pytest.fixture
def env_base(docker_client: Any, busybox_base: str) -> Iterator[str]:
    """A base that sets every manifest variable (and one more) to its own value."""
    name = f"baker-test/base-env-{uuid.uuid4().hex[:12]}:1"
    lines = [f"FROM {busybox_base}"] + [f"ENV {key}={json.dumps(value)}" for key, value in BASE_ENV.items()]
    docker_client.images.build(fileobj=io.BytesIO("\n".join(lines).encode()), tag=name, rm=True)
    env = dict(item.split("=", 1) for item in docker_client.api.inspect_image(name)["Config"]["Env"])
    assert {k: env[k] for k in BASE_ENV} == BASE_ENV  # the base really sets them
    yield name
    docker_client.api.remove_image(name)


@pytest.fixture
def vault(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    secrets = {_secret_name(env): value for env, value in SECRET_VALUES.items()}
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={"base-env": {"grants": [{"app": APP, "scope": "vault"}], "secrets": secrets}},
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    return emu


def _manifest(path: Path, emu: Emulator, base: str, tag: str) -> Path:
    env: dict[str, Any] = {name: {"secret": _secret_name(name)} for name in SECRET_VALUES}
    credential = azure_credential(emu.vault_url("base-env"), TENANT, APP)
    return write_manifest(
        path, base=base, tag=tag, credentials={"vault": credential}, env={**env, **LITERALS}
    )


def _env_of(client: Any, ref: str) -> list[tuple[str, str]]:
    pairs = (item.split("=", 1) for item in client.api.inspect_image(ref)["Config"]["Env"])
    return [(name, value) for name, value in pairs]


def _assert_manifest_wins(pairs: list[tuple[str, str]]) -> None:
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), "a variable is set twice"
    env = dict(pairs)
    assert {name: env.get(name) for name in EXPECTED} == EXPECTED
    assert env["BASE_ONLY"] == BASE_ENV["BASE_ONLY"]
    assert env["KEEP"] == "me"  # from the imported busybox base, two layers down
    # Nothing else: no build-argument name leaks into the image's environment.
    assert set(env) == {*EXPECTED, "BASE_ONLY", "KEEP"}


def test_manifest_values_replace_same_named_base_variables_and_check_sees_them_current(
    vault: Emulator,
    env_base: str,
    docker_client: Any,
    image_names: ImageNames,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = image_names()
    manifest = str(_manifest(tmp_path / "baker.yaml", vault, env_base, tag))

    assert main(["build", "-f", manifest, "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    image_names.track(built["image_id"])
    _assert_manifest_wins(_env_of(docker_client, tag))

    assert main(["check", "-f", manifest, "--image", tag, "--json"]) == 0
    statuses = {e["env"]: e["status"] for e in json.loads(capsys.readouterr().out)["entries"]}
    assert statuses == {
        **{name: "current" for name in SECRET_VALUES},
        **{name: "literal" for name in LITERALS},
    }

    assert main(["build", "-f", manifest, "--if-stale", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["skipped"] is True
    assert image_names.image_id(tag) == built["image_id"]


def test_rendered_directory_built_the_documented_api_way_replaces_base_variables(
    env_base: str, docker_client: Any, image_names: ImageNames, tmp_path: Path
) -> None:
    name = image_names()
    resolved = ResolvedEnv(
        tuple(
            Resolved(env=k, value=Secret(v), source=LiteralValue(v), version=None, properties=None)
            for k, v in EXPECTED.items()
        )
    )
    manifest = Manifest(
        path="baker.yaml",
        image=ImageSpec(base=env_base, build=None),
        credentials={},
        env=tuple(EnvEntry(k, LiteralValue(v)) for k, v in EXPECTED.items()),
    )
    out = tmp_path / "out"
    render(resolved, manifest, out, base=env_base, tags=[name])

    # The README's snippet: the Dockerfile alone as context, the bake file's args and labels.
    import docker

    target = json.loads((out / "docker-bake.json").read_text(encoding="utf-8"))["target"]["default"]
    with (out / target["dockerfile"]).open("rb") as dockerfile:
        image, _ = docker.from_env().images.build(
            fileobj=dockerfile, buildargs=target["args"], labels=target["labels"], rm=True
        )
    image_names.track(image.id)
    for ref in target["tags"]:
        image.tag(ref)
    _assert_manifest_wins(_env_of(docker_client, name))
    info = engine.inspect_image(name, client=docker_client)
    assert info is not None and info.id == image.id

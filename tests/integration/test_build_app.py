"""The docker build wrapper (`image.build`) with BuildKit, through a real Docker CLI and engine.

Debian's CLI (`/usr/bin/docker`, 20.10: BuildKit under `DOCKER_BUILDKIT=1`) is picked explicitly
with `BAKER_DOCKER`; the 28.2 CLI without the buildx plugin (`/usr/local/bin/docker` here) plays the
user who has no BuildKit.  Build secrets come from the emulator; the engine has no bridge network,
so every Dockerfile's RUN goes with `network: none`."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import baker
from baker.cli import main
from baker.emulator import Emulator
from baker.errors import EngineError, ImageError
from baker.image import engine
from baker.provenance import LABEL
from baker.secret import MASK
from tests.conftest import unavailable
from tests.support import oci_bases
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.oci_bases import Api, StartRegistry

pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

DEBIAN_CLI = Path("/usr/bin/docker")
NO_BUILDX_CLI = Path("/usr/local/bin/docker")
TENANT = "11111111-2222-3333-4444-555555555555"
APP = "12121212-3434-5656-7878-909090909090"
CLIENT_SECRET = "app-build-client-secret-7a8b"
NPM_TOKEN = f"npm-token-canary-{uuid.uuid4().hex}"  # only ever a build secret: never in the image
DB_PASSWORD = f"db password {uuid.uuid4().hex[:12]} $x"  # baked in env, and a build secret too


@pytest.fixture
def vault(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={
            "app": {
                "grants": [{"app": APP, "scope": "vault"}],
                "secrets": {"npm-token": NPM_TOKEN, "db-password": DB_PASSWORD},
            }
        },
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    return emu


@pytest.fixture
def debian_cli(monkeypatch: pytest.MonkeyPatch) -> Path:
    if not DEBIAN_CLI.is_file():
        unavailable(f"{DEBIAN_CLI} (Debian's docker.io CLI) is not installed")
    monkeypatch.setenv("BAKER_DOCKER", str(DEBIAN_CLI))
    return DEBIAN_CLI


def _manifest(
    path: Path,
    emu: Emulator,
    build: dict[str, Any],
    *,
    tags: tuple[str, ...] = (),
    env: dict[str, Any] | None = None,
) -> Path:
    document = {
        "version": 1,
        "image": {"build": build, **({"tag": list(tags)} if tags else {})},
        "credentials": {
            "kv": {
                "provider": "azure-key-vault",
                "vault_url": emu.vault_url("app"),
                "tenant_id": TENANT,
                "client_id": APP,
                "client_secret": "${AZURE_CLIENT_SECRET}",
                "default": True,
            }
        },
        "env": env if env is not None else {"DB_PASSWORD": {"secret": "db-password"}, "LOG_LEVEL": "info"},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _context(
    root: Path, dockerfile: str, *, name: str = "Dockerfile", files: dict[str, str] | None = None
) -> Path:
    context = root / "app"
    context.mkdir(exist_ok=True)
    (context / name).write_text(dockerfile, encoding="utf-8")
    for file, text in (files or {}).items():
        (context / file).write_text(text, encoding="utf-8")
    return context


def _forms(value: str) -> set[str]:
    raw = value.encode()
    return {value, base64.b64encode(raw).decode(), raw.hex(), json.dumps(value)[1:-1]}


def _saved(client: Any, image: str) -> bytes:
    """`docker save` of `image`, every layer tar opened up (they are plain tars in 20.10's save)."""
    data = b"".join(client.api.get_image(image))
    parts = [data]
    with tarfile.open(fileobj=io.BytesIO(data)) as outer:
        for member in outer.getmembers():
            handle = outer.extractfile(member) if member.isfile() else None
            if handle is not None:
                parts.append(handle.read())
    return b"".join(parts)


def _ls(client: Any, image: str, path: str) -> list[str]:
    output = client.containers.run(image, [f"ls -a {path}"], network_mode="none", remove=True)
    return sorted(output.decode().split())


# -- BuildKit: cache and secret mounts, from the emulator ------------------------------------------


def test_buildkit_cache_and_secret_mounts_get_the_build_secret_which_is_nowhere_after(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vault: Emulator,
    debian_cli: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _context(
        tmp_path,
        f"FROM {busybox_base}\n"
        "ARG RUN_ID\n"  # a fresh value: no step below comes from BuildKit's cache
        "RUN --mount=type=cache,target=/cache,uid=1000,gid=1000 echo cached > /cache/x && cat /cache/x\n"
        # the size proves the bytes arrived; the cat proves baker's output masks what a step prints
        "RUN --mount=type=secret,id=npm_token,uid=1000 wc -c < /run/secrets/npm_token > /tmp/npm-size"
        " && cat /run/secrets/npm_token\n"
        "RUN --mount=type=secret,id=shared,uid=1000 wc -c < /run/secrets/shared > /tmp/shared-size\n"
        # a second step reads the same secret whole again (the CLI re-opens what it was handed)
        "RUN --mount=type=secret,id=npm_token,uid=1000 wc -c < /run/secrets/npm_token > /tmp/npm-again\n",
    )
    name = image_names()
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault,
        {
            "context": "app",
            "network": "none",
            "args": {"RUN_ID": uuid.uuid4().hex},
            "secrets": {"npm_token": {"secret": "npm-token"}, "shared": {"secret": "db-password"}},
        },
        tags=(name,),
    )
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # where baker's private directories go
    vault.reset_stats()
    assert main(["build", "-f", str(manifest), "--json", "--debug"]) == 0  # every diagnostic too
    assert list(private.iterdir()) == []  # nothing left behind (the id file's 0700 directory went)
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    image_names.track(document["image_id"])

    gets = [
        r.path for r in vault.requests() if r.method == "GET" and "/secrets/" in r.path and r.status == 200
    ]
    assert sorted(gets) == ["/secrets/db-password/", "/secrets/npm-token/"]  # shared with env: one GET
    assert "#" in captured.err and "--mount=type=cache" in captured.err  # BuildKit's plain progress
    assert f"{MASK}" in captured.err  # the step that printed the build secret: masked
    sizes = docker_client.containers.run(
        name, ["cat /tmp/npm-size /tmp/shared-size /tmp/npm-again"], network_mode="none", remove=True
    ).decode()
    npm, shared = str(len(NPM_TOKEN.encode())), str(len(DB_PASSWORD.encode()))
    assert sizes.split() == [npm, shared, npm]
    info = engine.inspect_image(name, client=docker_client)
    assert info is not None
    assert dict(item.split("=", 1) for item in info.env)["DB_PASSWORD"] == DB_PASSWORD
    label = json.loads(info.labels[LABEL])
    assert set(label["build_secrets"]) == {"npm_token", "shared"}
    assert label["build_secrets"]["npm_token"]["version"]  # recorded, for an audit; never the value

    saved = _saved(docker_client, name)
    history = json.dumps(docker_client.api.history(name))
    for form in _forms(NPM_TOKEN):
        assert form.encode() not in saved
        assert form not in history
        assert form not in captured.out + captured.err
        assert form not in info.labels[LABEL]
    for form in _forms(CLIENT_SECRET) | _forms(DB_PASSWORD):
        assert form not in captured.out + captured.err


@pytest.mark.parametrize(
    ("dockerfile_name", "absent", "present"),
    [
        ("Dockerfile", ["by-dockerignore.txt"], ["by-dockerfile-ignore.txt", "keep.txt"]),
        # `<Dockerfile>.dockerignore` replaces the context's .dockerignore, as `docker build` has it
        ("app.Dockerfile", ["by-dockerfile-ignore.txt"], ["by-dockerignore.txt", "keep.txt"]),
    ],
)
def test_dockerignore_and_the_dockerfiles_own_ignore_file_keep_files_out_of_the_image(
    tmp_path: Path,
    vault: Emulator,
    debian_cli: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
    dockerfile_name: str,
    absent: list[str],
    present: list[str],
) -> None:
    context = _context(
        tmp_path,
        f"FROM {busybox_base}\nCOPY . /srv/ctx\n",
        name=dockerfile_name,
        files={
            "keep.txt": "kept",
            "by-dockerignore.txt": "x",
            "by-dockerfile-ignore.txt": "x",
            ".dockerignore": "by-dockerignore.txt\n",
            "app.Dockerfile.dockerignore": "by-dockerfile-ignore.txt\n",
        },
    )
    assert (context / dockerfile_name).is_file()
    name = image_names()
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault,
        {"context": "app", "dockerfile": dockerfile_name, "network": "none"},
        tags=(name,),
        env={"LOG_LEVEL": "info"},
    )
    assert main(["build", "-f", str(manifest), "--json"]) == 0
    image_names.track(json.loads(capsys.readouterr().out)["image_id"])
    listed = _ls(docker_client, name, "/srv/ctx")
    for file in absent:
        assert file not in listed
    for file in present:
        assert file in listed


# -- no BuildKit to be had -------------------------------------------------------------------------


@pytest.fixture
def no_buildkit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH whose only `docker` is a CLI 23+ without the buildx plugin (it refuses DOCKER_BUILDKIT=1)."""
    if not NO_BUILDX_CLI.is_file():
        unavailable(f"{NO_BUILDX_CLI} (a docker CLI without buildx) is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(NO_BUILDX_CLI)
    monkeypatch.delenv("BAKER_DOCKER", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/bin")
    monkeypatch.setenv("DOCKER_BUILDKIT", "1")  # what a user tries first; this CLI refuses it
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.docker/cli-plugins of the machine's user
    return bin_dir


@pytest.mark.parametrize(
    ("dockerfile", "named"),
    [
        ("RUN --mount=type=cache,target=/root/.cache true\n", "`RUN --mount`"),
        ("# syntax=docker/dockerfile:1\nRUN true\n", "# syntax=docker/dockerfile:1"),
        ("RUN <<EOF\ntrue\nEOF\n", "heredoc"),
        ("COPY --link . /srv\n", "`COPY --link`"),
    ],
)
def test_a_dockerfile_needing_buildkit_without_buildkit_is_refused_naming_buildx_before_any_fetch(
    tmp_path: Path,
    vault: Emulator,
    no_buildkit_path: Path,
    busybox_base: str,
    capsys: pytest.CaptureFixture[str],
    dockerfile: str,
    named: str,
) -> None:
    header, _, rest = dockerfile.partition("\n") if dockerfile.startswith("#") else ("", "", dockerfile)
    text = (f"{header}\n" if header else "") + f"FROM {busybox_base}\n" + rest
    _context(tmp_path, text)
    manifest = _manifest(tmp_path / "baker.yaml", vault, {"context": "app", "network": "none"})
    vault.reset_stats()
    assert main(["build", "-f", str(manifest), "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["error"] == "UsageError"
    assert "needs BuildKit" in document["message"] and named in document["message"]
    assert "buildx" in document["hint"] and "docker buildx version" in document["hint"]
    assert vault.requests() == []  # refused before any sign-in or fetch


def test_a_plain_dockerfile_without_buildkit_builds_with_the_classic_builder(
    tmp_path: Path,
    vault: Emulator,
    no_buildkit_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _context(tmp_path, f"FROM {busybox_base}\nLABEL app=plain\n")
    name = image_names()
    manifest = _manifest(tmp_path / "baker.yaml", vault, {"context": "app"}, tags=(name,), env={"A": "b"})
    assert main(["build", "-f", str(manifest), "--json"]) == 0
    image_names.track(json.loads(capsys.readouterr().out)["image_id"])
    info = engine.inspect_image(name, client=docker_client)
    assert info is not None and info.labels["app"] == "plain"


# -- the library's guarantee: no engine, no secret fetched -----------------------------------------


def test_python_api_build_fetches_no_secret_when_there_is_no_engine(
    tmp_path: Path, vault: Emulator, debian_cli: Path, busybox_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _context(tmp_path, f"FROM {busybox_base}\nRUN --mount=type=secret,id=npm_token true\n")
    manifest = baker.load(
        _manifest(
            tmp_path / "baker.yaml",
            vault,
            {"context": "app", "network": "none", "secrets": {"npm_token": {"secret": "npm-token"}}},
        )
    )
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # nothing listens there
    vault.reset_stats()
    with pytest.raises(EngineError):
        baker.build(manifest, tags=[])
    assert vault.requests() == []


# -- --in-registry: the app pushed, then baked in the registry onto its digest ---------------------


@pytest.fixture
def registry(registries: StartRegistry) -> Iterator[Api]:
    started = registries()
    yield started.api


def test_in_registry_builds_pushes_the_app_then_bakes_onto_its_pushed_digest(
    tmp_path: Path,
    vault: Emulator,
    debian_cli: Path,
    registry: Api,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _context(
        tmp_path,
        f"FROM {busybox_base}\nRUN --mount=type=secret,id=npm_token,uid=1000 wc -c < /run/secrets/npm_token "
        "> /tmp/npm-size\nLABEL app=pushed\n",
    )
    repo = f"app-{uuid.uuid4().hex[:8]}"
    app_ref = f"{registry.host}/{repo}:app"
    image_names.names.append(app_ref)  # the local tag `docker build -t` leaves (no values in it)
    baked_ref = f"{registry.host}/{repo}:baked"
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault,
        {
            "context": "app",
            "network": "none",
            "secrets": {"npm_token": {"secret": "npm-token"}},
            "push": app_ref,
        },
        tags=(baked_ref,),
    )
    assert main(["build", "--in-registry", "-f", str(manifest), "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    app_digest = registry.tag_digest(repo, "app")
    assert app_digest is not None
    assert registry.tag_digest(repo, "baked") == document["digest"]
    app_manifest = json.loads(registry.manifest(repo, app_digest)[0])
    baked_manifest = json.loads(registry.manifest(repo, document["digest"])[0])
    assert baked_manifest["layers"] == app_manifest["layers"]  # baked onto the pushed app's own layers
    config = json.loads(registry.blob(repo, baked_manifest["config"]["digest"]))
    env = dict(item.split("=", 1) for item in config["config"]["Env"])
    assert env["DB_PASSWORD"] == DB_PASSWORD and env["LOG_LEVEL"] == "info"
    assert config["config"]["Labels"]["app"] == "pushed"
    everything = captured.out + captured.err + json.dumps(config)
    for form in _forms(NPM_TOKEN):
        assert form not in everything
        assert form.encode() not in registry.blob(repo, app_manifest["config"]["digest"])


def test_several_platforms_without_buildx_are_refused_before_any_fetch(
    tmp_path: Path, vault: Emulator, debian_cli: Path, busybox_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _context(tmp_path, f"FROM {busybox_base}\n")
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault,
        {"context": "app", "platforms": ["linux/amd64", "linux/arm64"], "push": "127.0.0.1:9/app:1"},
        tags=("127.0.0.1:9/app:baked",),
    )
    vault.reset_stats()
    assert main(["build", "--in-registry", "-f", str(manifest), "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert "buildx" in document["message"] and "docker buildx version" in document["hint"]
    assert vault.requests() == []


# -- a stop during the app build ---------------------------------------------------------------------


def test_a_stop_during_the_app_build_interrupts_the_builder_and_exits_130_with_no_tag(
    tmp_path: Path, debian_cli: Path, busybox_base: str, image_names: ImageNames
) -> None:
    marker = uuid.uuid4().hex[:12]
    _context(tmp_path, f"FROM {busybox_base}\nRUN echo start-{marker} && sleep 60\n")
    name = image_names()
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        json.dumps(
            {
                "version": 1,
                "image": {"build": {"context": "app", "network": "none"}, "tag": name},
                "env": {"A": "b"},
            }
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "baker", "build", "-f", str(manifest)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if f"start-{marker}" in line and "RUN" not in line:  # the step runs (its output, not its title)
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            break
        assert time.monotonic() < deadline, "the build never reached the step"
    else:
        pytest.fail("the build ended before the step ran")
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert time.monotonic() - sent < 45  # the builder was interrupted, not waited for (sleep 60)
    assert not image_names.exists(name)


# -- --if-stale: a rotation re-bakes onto the recorded base, nothing is built ---------------------


def _rotate_and_rebake(
    vault: Emulator, args: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[Any, str]:
    rotated = f"rotated {uuid.uuid4().hex[:12]}"
    vault.set_secret("app", "db-password", rotated)
    vault.reset_stats()
    assert main([*args, "--if-stale", "--json"]) == 0
    captured = capsys.readouterr()
    gets = [
        r.path for r in vault.requests() if r.method == "GET" and "/secrets/" in r.path and r.status == 200
    ]
    assert "/secrets/npm-token/" not in gets  # the build secret is not fetched: nothing is built
    assert "building the app image" not in captured.err
    return json.loads(captured.out), rotated


def test_if_stale_on_the_engine_builds_the_app_anew_rather_than_trust_a_recorded_app_image_id(
    tmp_path: Path,
    vault: Emulator,
    debian_cli: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The engine road records the app by its image id, which no repository names: a label (written
    by whoever put the image under the tag) could name any image the engine holds, so a rotation
    re-bake builds the app again from image.build, and says so (RT16-2)."""
    _context(tmp_path, f"FROM {busybox_base}\nRUN --mount=type=secret,id=npm_token,uid=1000 true\n")
    name = image_names()
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault,
        {"context": "app", "network": "none", "secrets": {"npm_token": {"secret": "npm-token"}}},
        tags=(name,),
    )
    assert main(["build", "-f", str(manifest), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    image_names.track(first["image_id"])

    rotated = f"rotated {uuid.uuid4().hex[:12]}"
    vault.set_secret("app", "db-password", rotated)
    assert main(["build", "-f", str(manifest), "--if-stale", "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    image_names.track(document["image_id"])
    assert "building the app anew from image.build" in captured.err
    assert "building the app image" in captured.err
    info = engine.inspect_image(name, client=docker_client)
    assert info is not None
    assert dict(item.split("=", 1) for item in info.env)["DB_PASSWORD"] == rotated


def test_if_stale_in_registry_rebakes_onto_the_pushed_app_digest_without_building(
    tmp_path: Path,
    vault: Emulator,
    debian_cli: Path,
    registry: Api,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _context(tmp_path, f"FROM {busybox_base}\nRUN --mount=type=secret,id=npm_token,uid=1000 true\n")
    repo = f"app-{uuid.uuid4().hex[:8]}"
    app_ref = f"{registry.host}/{repo}:app"
    image_names.names.append(app_ref)
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault,
        {
            "context": "app",
            "network": "none",
            "secrets": {"npm_token": {"secret": "npm-token"}},
            "push": app_ref,
        },
        tags=(f"{registry.host}/{repo}:baked",),
    )
    assert main(["build", "--in-registry", "-f", str(manifest), "--json"]) == 0
    capsys.readouterr()
    app_digest = registry.tag_digest(repo, "app")

    monkeypatch.setenv("BAKER_DOCKER", str(tmp_path / "no-such-docker"))  # a CLI asked would fail the run
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # and no engine either: a re-bake needs none
    document, rotated = _rotate_and_rebake(vault, ["build", "--in-registry", "-f", str(manifest)], capsys)
    baked = json.loads(registry.manifest(repo, document["digest"])[0])
    config = json.loads(registry.blob(repo, baked["config"]["digest"]))
    assert dict(item.split("=", 1) for item in config["config"]["Env"])["DB_PASSWORD"] == rotated
    label = json.loads(config["config"]["Labels"][LABEL])
    assert label["base"] == {"ref": app_ref, "digest": app_digest}
    assert registry.tag_digest(repo, "app") == app_digest  # the app was not pushed again


def test_python_api_build_in_registry_fetches_no_secret_when_the_push_target_does_not_answer(
    tmp_path: Path, vault: Emulator, debian_cli: Path, busybox_base: str
) -> None:
    _context(tmp_path, f"FROM {busybox_base}\nRUN --mount=type=secret,id=npm_token true\n")
    manifest = baker.load(
        _manifest(
            tmp_path / "baker.yaml",
            vault,
            {
                "context": "app",
                "network": "none",
                "secrets": {"npm_token": {"secret": "npm-token"}},
                "push": "127.0.0.1:9/app:1",  # nothing listens there
            },
        )
    )
    vault.reset_stats()
    with pytest.raises(ImageError, match=r"image\.build\.push"):
        baker.build_in_registry(manifest, tags=["127.0.0.1:9/app:baked"])
    assert vault.requests() == []


def test_in_registry_app_build_whose_tag_no_registry_answers_fetches_nothing_and_builds_nothing(
    tmp_path: Path, vault: Emulator, debian_cli: Path, registry: Api, busybox_base: str
) -> None:
    """rtf-4: the tags are read (`inregistry.check_targets`) before resolution on the app-build
    branch too: a tag on a registry nobody answers is refused before any value or build secret is
    fetched, so nothing is built and the app is not pushed."""
    _context(tmp_path, f"FROM {busybox_base}\nRUN --mount=type=secret,id=npm_token true\n")
    repo = f"app-{uuid.uuid4().hex[:8]}"
    manifest = baker.load(
        _manifest(
            tmp_path / "baker.yaml",
            vault,
            {
                "context": "app",
                "network": "none",
                "secrets": {"npm_token": {"secret": "npm-token"}},
                "push": f"{registry.host}/{repo}:app",
            },
        )
    )
    vault.reset_stats()
    with pytest.raises(ImageError, match=r"127\.0\.0\.1:9\b"):
        baker.build_in_registry(manifest, tags=[f"{registry.host}/{repo}:baked", "127.0.0.1:9/app:baked"])
    assert vault.requests() == []
    assert registry.tag_digest(repo, "app") is None
    assert registry.tag_digest(repo, "baked") is None


def test_in_registry_finds_the_pushed_app_digest_even_when_a_value_masks_part_of_it_in_the_output(
    tmp_path: Path,
    vault: Emulator,
    debian_cli: Path,
    registry: Api,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The push's output is redacted for display; a value that happens to be part of the digest
    (a 12-character hex string) masks it there, and the digest must still be known."""
    _context(tmp_path, f"FROM {busybox_base}\nLABEL app=masked-digest\n")
    repo = f"app-{uuid.uuid4().hex[:8]}"
    app_ref = f"{registry.host}/{repo}:app"
    image_names.names.append(app_ref)
    manifest = _manifest(
        tmp_path / "baker.yaml",
        vault,
        {"context": "app", "network": "none", "push": app_ref},
        tags=(f"{registry.host}/{repo}:baked",),
    )
    assert main(["build", "--in-registry", "-f", str(manifest), "--json"]) == 0
    capsys.readouterr()
    app_digest = registry.tag_digest(repo, "app")
    assert app_digest is not None
    vault.set_secret("app", "db-password", app_digest[7:19])  # the next bake's value: part of the digest
    assert main(["build", "--in-registry", "-f", str(manifest), "--json"]) == 0
    captured = capsys.readouterr()
    assert app_digest not in captured.err  # the push's digest line was masked in the output
    label = json.loads(
        json.loads(registry.blob(repo, json.loads(registry.manifest(repo, "baked")[0])["config"]["digest"]))[
            "config"
        ]["Labels"][LABEL]
    )
    assert label["base"]["digest"] == app_digest  # the same app (BuildKit's cache), found anyway

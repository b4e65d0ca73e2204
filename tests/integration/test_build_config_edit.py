"""The engine bake is a config edit, against the real engine: every awkward value byte-exact in
`Config.Env` and nowhere else (not in `docker history --no-trunc`, not in `docker image inspect`
outside `Config.Env`); exactly one new image per bake; the base's config and history kept; the
same on the route that streams the base's layers in (forced here: this engine does not need it);
the base recorded in the provenance, and `build --if-stale` re-baking onto it on both roads
wherever the base's tag points meanwhile."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.errors import EngineError
from baker.image import engine
from baker.image.bake import bake
from baker.image.engine.load import CONTAINERD_SNAPSHOTTER
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest
from baker.provenance import LABEL, BaseRecord, base_of
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.integration.test_build_inregistry import inregistry_manifest, vault
from tests.support import oci_bases
from tests.support.fixtures_docker import ImageNames
from tests.support.oci_bases import StartRegistry, push_base

pytestmark = pytest.mark.docker

registries = oci_bases.registries  # the fixture
__all__ = ["registries", "vault"]

AWKWARD = {
    "PEM": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
    "QUOTES": 'it\'s "quoted" `tick`',
    "DOLLAR": "$HOME ${PATH} $$ $1 $",
    "BACKSLASH": "C:\\path\\ \\n \\",
    "HASH": "# not a comment #",
    "EQUALS": "a=b==c=",
    "TAB": "col1\tcol2\t",
    "CRLF": "line one\r\nline two\r\n",
    "SPACES": "   padded both sides   ",
    "UNICODE": "héllo ✓ 日本語 😀 \U0001d518",
    "PATH": "/baked/bin:/bin",  # replaces the base's PATH in place
}


def _values(canary: str) -> dict[str, str]:
    """Each awkward value with a canary of its own inside, so each can be looked for anywhere."""
    return {name: f"{value[:5]}{canary}-{name.lower()}{value[5:]}" for name, value in AWKWARD.items()}


def _resolved(values: Mapping[str, str]) -> ResolvedEnv:
    return ResolvedEnv(
        tuple(
            Resolved(env=name, value=Secret(value), source=LiteralValue(value), version=None, properties=None)
            for name, value in values.items()
        )
    )


def _manifest(values: Mapping[str, str], base: str) -> Manifest:
    return Manifest(
        path="baker.yaml",
        image=ImageSpec(base=base, build=None),
        credentials={},
        env=tuple(EnvEntry(name, LiteralValue(value)) for name, value in values.items()),
    )


@pytest.fixture
def rich_base(docker_client: Any, busybox_base: str, image_names: ImageNames) -> str:
    """A base whose config sets everything a bake must keep: labels, ports, a health check, user,
    working directory, entrypoint, command, a PATH, and a history of several steps."""
    name = image_names("rich-base", "1")
    dockerfile = (
        f"FROM {busybox_base}\n"
        f"LABEL org.example.base=yes org.example.run={uuid.uuid4().hex}\n"
        "ENV PATH=/base/bin:/bin KEEP_TOO=kept\n"
        "EXPOSE 8080/tcp 53/udp\n"
        'HEALTHCHECK --interval=5s --timeout=2s CMD ["/bin/true"]\n'
        "WORKDIR /srv/app\n"
        "USER 1000:1000\n"
        'ENTRYPOINT ["/bin/sh", "-c"]\n'
        'CMD ["env"]\n'
    )
    image, _ = docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), rm=True, network_mode="none"
    )
    image_names.track(image.id)
    image.tag(name)
    return name


def _all_images(client: Any, base: str) -> set[str]:
    """Every image descended from `base` (its unique `org.example.run` label is inherited by whatever
    is made from it: an intermediate image too).  Not the engine's whole list: under pytest-xdist
    another worker makes images on the same engine at the same time."""
    run = client.images.get(base).labels["org.example.run"]
    return set(client.api.images(all=True, quiet=True, filters={"label": f"org.example.run={run}"}))


def _history_no_trunc(ref: str, docker_host: str) -> str:
    docker = shutil.which("docker")
    assert docker is not None, "the docker CLI is needed for `docker history --no-trunc`"
    return subprocess.run(
        [docker, "--host", docker_host, "history", "--no-trunc", "--format", "{{json .}}", ref],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _forms(value: str) -> set[str]:
    """The value, each line of it, and its JSON-escaped form (what an inspect dump would hold)."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms.update(line for line in value.splitlines() if len(line) >= 8)
    return forms


def _assert_config_edit(
    client: Any, base: str, baked: str, values: Mapping[str, str], canary: str, docker_host: str
) -> None:
    base_data, data = client.api.inspect_image(base), client.api.inspect_image(baked)
    config, base_config = data["Config"], base_data["Config"]
    # Every value byte for byte; a base variable of the same name replaced in place, the rest kept.
    env = dict(item.split("=", 1) for item in config["Env"])
    assert {name: env[name] for name in values} == dict(values)
    base_names = [item.split("=", 1)[0] for item in base_config["Env"]]
    assert [item.split("=", 1)[0] for item in config["Env"]][: len(base_names)] == base_names
    assert env["KEEP_TOO"] == "kept"
    # The base's settings kept, key for key (labels gain the provenance record only).
    for key in set(base_config) | set(config):
        if key not in ("Env", "Labels"):
            assert config.get(key) == base_config.get(key), key
    assert config["Labels"] == {**base_config["Labels"], LABEL: config["Labels"][LABEL]}
    assert config["Healthcheck"]["Test"] == ["CMD", "/bin/true"]
    assert set(config["ExposedPorts"]) == {"8080/tcp", "53/udp"}
    assert data["RootFS"] == base_data["RootFS"]  # the same layers
    # The base's history, then one entry that names the variables.
    base_history, history = client.api.history(base), client.api.history(baked)
    assert len(history) == len(base_history) + 1
    assert [(h["CreatedBy"], h["Created"]) for h in history[1:]] == [
        (h["CreatedBy"], h["Created"]) for h in base_history
    ]
    assert history[0]["CreatedBy"] == f"baker: ENV {' '.join(values)} (values from Key Vault)"
    assert history[0]["Size"] == 0
    # No value anywhere but Config.Env: not in the history (the CLI's own view), not elsewhere in
    # inspect (the label, ContainerConfig, Comment...).
    texts = {
        "docker history --no-trunc": _history_no_trunc(baked, docker_host),
        "docker image inspect outside Config.Env": json.dumps(
            {**data, "Config": {**config, "Env": None}}, ensure_ascii=False
        ),
        "the history API": json.dumps(history, ensure_ascii=False),
    }
    for where, text in texts.items():
        assert canary not in text, where
        for value in values.values():
            for form in _forms(value):
                if canary in form:
                    assert form not in text, where


@pytest.mark.parametrize("full_layers", [False, True], ids=["config-only", "layers-streamed"])
def test_a_bake_is_one_new_image_holding_each_value_in_env_only_over_the_bases_config_and_history(
    full_layers: bool, docker_client: Any, rich_base: str, image_names: ImageNames, docker_host: str
) -> None:
    canary = f"canary{uuid.uuid4().hex}"
    values = _values(canary)
    tag = image_names()
    before = _all_images(docker_client, rich_base)
    lines: list[str] = []
    result = bake(
        _manifest(values, rich_base),
        _resolved(values),
        tags=[tag],
        push=False,
        on_line=lines.append,
        client=docker_client,
        full_layers=full_layers,
    )
    image_names.track(result.image_id)
    assert _all_images(docker_client, rich_base) - before == {result.image_id}  # exactly one new image
    assert before - _all_images(docker_client, rich_base) == set()
    assert image_names.image_id(tag) == result.image_id
    _assert_config_edit(docker_client, rich_base, tag, values, canary, docker_host)
    assert canary not in "\n".join(lines)
    # The provenance records the base: as named, and its image id.
    base_id = docker_client.api.inspect_image(rich_base)["Id"]
    label = docker_client.api.inspect_image(tag)["Config"]["Labels"][LABEL]
    assert base_of(label) == BaseRecord(ref=rich_base, digest=base_id)
    # The engine's id for the image is the baked config's digest (checked by the bake too).
    assert result.image_id.startswith("sha256:") and len(result.image_id) == 71


def test_the_baked_image_runs_with_every_value_byte_exact(
    docker_client: Any, busybox_base: str, image_names: ImageNames
) -> None:
    values = _values(f"run{uuid.uuid4().hex[:8]}")
    tag = image_names()
    result = bake(
        _manifest(values, busybox_base), _resolved(values), tags=[tag], push=False, on_line=lambda line: None
    )
    image_names.track(result.image_id)
    # `env -0`: NUL-separated, so values with line breaks come back whole.
    container = docker_client.containers.run(tag, ["env -0"], detach=True, network_disabled=True)
    try:
        assert container.wait(timeout=60)["StatusCode"] == 0
        deadline = time.monotonic() + 10
        while True:  # the engine's log copier may still be writing when the container has exited
            output = container.logs(stdout=True, stderr=False).decode("utf-8")
            seen = dict(item.split("=", 1) for item in output.split("\0") if "=" in item)
            if set(values) <= set(seen) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        container.remove(force=True)
    assert {name: seen.get(name) for name in values} == values


# -- build --if-stale: onto the recorded base ------------------------------------------------------


def _write(path: Path, base: str, env: Mapping[str, str], tag: str) -> Path:
    path.write_text(json.dumps({"version": 1, "image": {"from": base, "tag": tag}, "env": dict(env)}))
    return path


def _build(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_if_stale_rebakes_onto_the_recorded_base_after_the_bases_tag_moved(
    tmp_path: Path,
    docker_client: Any,
    rich_base: str,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base_tag = image_names("moving-base", "1")
    first_base = docker_client.api.inspect_image(rich_base)["Id"]
    repository, label = base_tag.rsplit(":", 1)
    docker_client.api.tag(first_base, repository, label)
    tag = image_names()
    manifest = _write(tmp_path / "baker.yaml", base_tag, {"TOKEN": "rotation-1"}, tag)
    code, document, _ = _build(["build", "-f", str(manifest)], capsys)
    assert code == 0
    image_names.track(document["image_id"])

    # The base's tag moves to another image (a new release of the base), then a rotation.
    dockerfile = f"FROM {busybox_base}\nLABEL org.example.release=two-{uuid.uuid4().hex}\n"
    other, _ = docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), rm=True, network_mode="none"
    )
    image_names.track(other.id)
    # The engine still names the first base as an image of the repository, as it does a pulled
    # base whose tag a later pull moved (its RepoDigests stay): a re-bake goes onto an image of
    # image.from's repository only, never onto whatever image id a label names (RT16-2).
    docker_client.api.tag(first_base, repository, "previous")
    image_names.names.append(f"{repository}:previous")
    other.tag(base_tag)
    _write(manifest, base_tag, {"TOKEN": "rotation-2"}, tag)

    code, document, err = _build(["build", "-f", str(manifest), "--if-stale"], capsys)
    assert code == 0, err
    image_names.track(document["image_id"])
    assert "re-baking onto the recorded base" in err
    rebaked = docker_client.api.inspect_image(tag)
    assert rebaked["RootFS"] == docker_client.api.inspect_image(first_base)["RootFS"]
    assert rebaked["Config"]["Labels"]["org.example.base"] == "yes"  # the first base's config
    assert "org.example.release" not in rebaked["Config"]["Labels"]
    assert dict(i.split("=", 1) for i in rebaked["Config"]["Env"])["TOKEN"] == "rotation-2"
    assert base_of(rebaked["Config"]["Labels"][LABEL]) == BaseRecord(ref=base_tag, digest=first_base)

    # A plain build reads image.from anew.
    _write(manifest, base_tag, {"TOKEN": "rotation-3"}, tag)
    code, document, _ = _build(["build", "-f", str(manifest)], capsys)
    assert code == 0
    image_names.track(document["image_id"])
    plain = docker_client.api.inspect_image(tag)
    assert plain["Config"]["Labels"]["org.example.release"].startswith("two-")
    assert base_of(plain["Config"]["Labels"][LABEL]) == BaseRecord(ref=base_tag, digest=other.id)


def test_if_stale_names_the_recorded_base_when_the_engine_no_longer_holds_it(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dockerfile = f"FROM {busybox_base}\nLABEL org.example.gone={uuid.uuid4().hex}\n"
    gone, _ = docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), rm=True, network_mode="none"
    )
    base_tag = image_names("gone-base", "1")
    gone.tag(base_tag)
    tag = image_names()
    manifest = _write(tmp_path / "baker.yaml", base_tag, {"TOKEN": "rotation-1"}, tag)
    code, document, _ = _build(["build", "-f", str(manifest)], capsys)
    assert code == 0
    image_names.track(document["image_id"])
    # The bake is a config edit: the baked image is no child of the base, which can go.
    docker_client.api.remove_image(base_tag)  # its last name: the image goes with it
    assert not image_names.exists(gone.id)
    _write(manifest, base_tag, {"TOKEN": "rotation-2"}, tag)
    code, document, _ = _build(["build", "-f", str(manifest), "--if-stale"], capsys)
    assert code == 1
    assert gone.id in document["message"] and "no longer holds" in document["message"]
    assert "without --if-stale" in document["hint"]


def test_if_stale_refuses_a_recorded_base_outside_image_froms_repository_and_moves_no_tag(
    tmp_path: Path,
    docker_client: Any,
    rich_base: str,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """image.from now names another repository than the one the image records: the re-bake
    neither goes onto the recorded base (a label never picks it) nor changes base silently."""
    tag = image_names()
    manifest = _write(tmp_path / "baker.yaml", rich_base, {"TOKEN": "rotation-1"}, tag)
    code, document, _ = _build(["build", "-f", str(manifest)], capsys)
    assert code == 0
    first = image_names.track(document["image_id"])
    _write(manifest, busybox_base, {"TOKEN": "rotation-2"}, tag)
    code, document, _ = _build(["build", "-f", str(manifest), "--if-stale"], capsys)
    assert code == 2
    assert "outside image.from's repository" in document["message"]
    assert busybox_base in document["message"]  # the base the manifest names, not the label's
    assert "without --if-stale" in document["hint"]
    assert docker_client.api.inspect_image(tag)["Id"] == first  # no tag moved


def test_if_stale_on_an_image_without_a_base_record_bakes_onto_image_from_and_says_so(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = image_names()
    old = _manifest({"TOKEN": "rotation-1"}, busybox_base)
    result = bake(old, _resolved({"TOKEN": "rotation-1"}), tags=[tag], push=False, on_line=lambda line: None)
    image_names.track(result.image_id)
    # As an earlier baker labelled it: no base in the record.
    record = json.loads(docker_client.api.inspect_image(tag)["Config"]["Labels"][LABEL])
    del record["base"]
    dockerfile = f"FROM {tag}\nLABEL {LABEL}={json.dumps(json.dumps(record, separators=(',', ':')))}\n"
    earlier, _ = docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), rm=True, network_mode="none"
    )
    image_names.track(earlier.id)
    earlier.tag(tag)
    manifest = _write(tmp_path / "baker.yaml", busybox_base, {"TOKEN": "rotation-2"}, tag)
    code, document, err = _build(["build", "-f", str(manifest), "--if-stale"], capsys)
    assert code == 0, err
    image_names.track(document["image_id"])
    assert "records no base" in err and "image.from" in err
    label = docker_client.api.inspect_image(tag)["Config"]["Labels"][LABEL]
    assert base_of(label) == BaseRecord(busybox_base, docker_client.api.inspect_image(busybox_base)["Id"])


@pytest.mark.emulator
def test_in_registry_if_stale_rebakes_onto_the_recorded_base_digest_after_the_tag_moved(
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = registries()
    first = push_base(registry.api, "team/base", index=False, platforms=("linux/amd64",))
    moving = f"{registry.host}/team/base:moving"
    raw, media_type = registry.api.manifest("team/base", first.digest)
    registry.api.put_manifest("team/base", "moving", raw, media_type)
    tag = f"{registry.host}/team/app:baked"
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, moving, extra={"ROUND": "one"})
    code, document, err = _build(["build", "--in-registry", "-f", str(manifest), "--tag", tag], capsys)
    assert code == 0, err

    second = push_base(registry.api, "team/base", index=False, platforms=("linux/amd64",))
    raw, media_type = registry.api.manifest("team/base", second.digest)
    registry.api.put_manifest("team/base", "moving", raw, media_type)  # the tag moved
    inregistry_manifest(manifest, vault, moving, extra={"ROUND": "two"})
    code, document, err = _build(
        ["build", "--in-registry", "--if-stale", "-f", str(manifest), "--tag", tag], capsys
    )
    assert code == 0, err
    assert f"re-baking onto the recorded base {moving} ({first.digest})" in err
    baked = json.loads(registry.api.manifest("team/app", document["digest"])[0])
    assert [layer["digest"] for layer in baked["layers"]] == first.layers["linux/amd64"]
    config = json.loads(registry.api.blob("team/app", baked["config"]["digest"]))
    assert base_of(config["config"]["Labels"][LABEL]) == BaseRecord(ref=moving, digest=first.digest)
    assert "ROUND=two" in config["config"]["Env"]


@pytest.fixture
def docker_host() -> str:
    """The engine the tests use (the docker CLI is pointed at it explicitly)."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def test_the_engine_route_is_chosen_by_the_image_store(docker_client: Any) -> None:
    """This engine (the classic image store) takes a layer-less load; the containerd store is
    recognised by `docker info` (tested where one runs: not on this machine)."""
    info = docker_client.info()
    expected = any(pair[1] == CONTAINERD_SNAPSHOTTER for pair in info.get("DriverStatus") or [])
    assert engine.wants_layers(client=docker_client) is expected


def test_a_load_the_engine_refuses_fails_at_once_moves_no_tag_and_leaves_no_image(
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The base's config names a layer the engine does not hold (as when the base went between the
    read and the load): the engine refuses the layer-less load; baker says so, and does not wait
    for an image that will never come."""
    read = engine.base_config

    def with_a_missing_layer(*args: Any, **kwargs: Any) -> bytes:
        document = json.loads(read(*args, **kwargs))
        document["rootfs"]["diff_ids"].append("sha256:" + uuid.uuid4().hex * 2)
        return json.dumps(document).encode()

    monkeypatch.setattr(engine, "base_config", with_a_missing_layer)
    value = f"refused-{uuid.uuid4().hex}"
    tag = image_names()
    started = time.monotonic()
    with pytest.raises(EngineError, match="refused the baked image"):
        bake(
            _manifest({"V": value}, busybox_base),
            _resolved({"V": value}),
            tags=[tag],
            push=False,
            on_line=lambda line: None,
            client=docker_client,
        )
    assert time.monotonic() - started < 4  # no watch for a late image (LOAD_SETTLE is 5 s)
    assert not image_names.exists(tag)
    assert image_names.holding(value) == []


def test_a_base_removed_while_the_values_resolve_is_named_as_gone(
    docker_client: Any, image_names: ImageNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bake reads the base before the values resolve (`read_ahead`) and loads over its layers
    after: a base removed in between (`docker rmi`, a prune) makes the engine refuse the load.  Said
    as that, not as an engine that wants every layer (the containerd store's hint)."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        data = uuid.uuid4().hex.encode()  # a layer of its own: removing the base removes it
        info = tarfile.TarInfo("only-this-base")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    base = image_names()
    repository, _, tag = base.rpartition(":")
    docker_client.api.import_image_from_data(layer.getvalue(), repository=repository, tag=tag)
    load = engine.load_config

    def removed_first(*args: Any, **kwargs: Any) -> str:
        docker_client.api.remove_image(base, force=True)
        return load(*args, **kwargs)

    monkeypatch.setattr(engine, "load_config", removed_first)
    value = f"gone-base-{uuid.uuid4().hex}"
    with pytest.raises(EngineError) as caught:
        bake(
            _manifest({"V": value}, base),
            _resolved({"V": value}),
            tags=[image_names()],
            push=False,
            on_line=lambda line: None,
            client=docker_client,
        )
    assert "the base image" in caught.value.message and "is gone" in caught.value.message
    assert caught.value.hint is not None and "containerd" not in caught.value.hint
    assert image_names.holding(value) == []

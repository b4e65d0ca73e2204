"""A real Docker engine: values byte-exact in the image, base settings kept, provenance label,
redacted build output, no file left behind, and no tag created or moved by a failed bake."""

from __future__ import annotations

import io
import json
import re
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.errors import EngineError, RenderError
from baker.image import engine
from baker.image.bake import bake
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest
from baker.provenance import LABEL, from_label
from baker.render import render
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import MASK, Secret
from tests.support.fixtures_docker import BASE_CMD, BASE_ENTRYPOINT, BASE_USER, BASE_WORKDIR, ImageNames
from tests.support.manifests import write_manifest

pytestmark = pytest.mark.docker

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
    "CONTROL": "bell\x07 esc\x1b del\x7f nbsp\xa0 ls\u2028",
    "EMPTY": "",
}


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


def _env(info: engine.ImageInfo) -> dict[str, str]:
    return dict(item.split("=", 1) for item in info.env)


def _assert_baked(info: engine.ImageInfo, values: Mapping[str, str]) -> None:
    env = _env(info)
    for name, value in values.items():
        assert env[name] == value, name
    # The base's settings are kept.
    assert info.entrypoint == tuple(BASE_ENTRYPOINT)
    assert info.cmd == tuple(BASE_CMD)
    assert info.workdir == BASE_WORKDIR
    assert info.user == BASE_USER
    assert env["KEEP"] == "me"


def _literal_manifest(
    path: Path,
    env: Mapping[str, str],
    *,
    base: str | None = None,
    build: Mapping[str, Any] | None = None,
    tags: tuple[str, ...] = (),
) -> Path:
    """A literal-only manifest (JSON is YAML; values here avoid characters YAML cannot carry raw)."""
    image: dict[str, Any] = {"from": base} if base is not None else {"build": dict(build or {})}
    return write_manifest(path, image=image, tag=tags or None, env=dict(env))


# -- the documented ways ------------------------------------------------------------------------


def test_values_arrive_byte_exact_when_built_the_documented_api_way(
    tmp_path: Path, docker_client: Any, busybox_base: str, image_names: ImageNames
) -> None:
    out = tmp_path / "out"
    name = image_names()
    render(_resolved(AWKWARD), _manifest(AWKWARD, busybox_base), out, base=busybox_base, tags=[name])

    # What the README shows for people with their own tooling (the Dockerfile alone as context):
    import docker

    bake_target = json.loads((out / "docker-bake.json").read_text(encoding="utf-8"))["target"]["default"]
    client = docker.from_env()
    with (out / bake_target["dockerfile"]).open("rb") as dockerfile:
        image, logs = client.images.build(
            fileobj=dockerfile, buildargs=bake_target["args"], labels=bake_target["labels"], rm=True
        )
    for tag in bake_target["tags"]:
        image.tag(tag)

    info = engine.inspect_image(name, client=docker_client)
    assert info is not None
    _assert_baked(info, AWKWARD)
    assert [o.env for o in from_label(info.labels[LABEL])] == list(AWKWARD)
    log_text = "".join(str(chunk.get("stream", "")) for chunk in logs)
    assert "ENV" in log_text and "PEM=${baker_" in log_text
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in log_text


# -- baker build --------------------------------------------------------------------------------


def test_build_bakes_values_label_and_every_tag_given_instead_of_the_manifests(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = {"LOG_LEVEL": "info", "WEIRD": 'a $b "c" \\d\te=f # g  ', "MULTI": "l1\nl2\r\n  l3  "}
    manifest_tag, first, second = image_names("manifest"), image_names("one"), image_names("two")
    manifest = _literal_manifest(tmp_path / "baker.yaml", values, base=busybox_base, tags=(manifest_tag,))
    assert main(["build", "-f", str(manifest), "--tag", first, "--tag", second, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # --tag overrides the manifest's image.tag, and repeated it adds more
    assert document["tags"] == [first, second]
    assert not image_names.exists(manifest_tag)
    assert document["pushed"] == []
    image_names.track(document["image_id"])
    for ref in (first, second):
        info = engine.inspect_image(ref, client=docker_client)
        assert info is not None and info.id == document["image_id"]
        _assert_baked(info, values)
        assert set(json.loads(info.labels[LABEL])["env"]) == set(values)


def test_streamed_build_output_is_redacted_when_a_step_prints_values(
    tmp_path: Path, docker_client: Any, busybox_base: str, image_names: ImageNames
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    pem = f"-----BEGIN KEY-----\nMIIB{uuid.uuid4().hex}\nMIIB{uuid.uuid4().hex}\n-----END KEY-----\n"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {busybox_base}\n"
        "ARG CANARY\nARG PEM\n"
        'RUN echo "plain $CANARY" && echo "$CANARY" | busybox base64 && printf "%s" "$PEM" '
        '&& echo "{\\"json\\": \\"$CANARY\\"}" && printf "%s" "$CANARY" | busybox od -c | busybox head -1\n'
    )
    lines: list[str] = []
    image_id = engine.build_image(
        tmp_path,
        build_args={"CANARY": Secret(canary), "PEM": Secret(pem)},
        labels={},
        on_line=lines.append,
        client=docker_client,
    )
    image_names.track(image_id)
    text = "\n".join(lines)
    assert f"plain {MASK}" in text  # the step's output was streamed, masked
    import base64

    assert canary not in text
    assert base64.b64encode((canary + "\n").encode()).decode()[:40] not in text
    for line in pem.splitlines()[1:3]:
        assert line not in text


# -- no file left behind ------------------------------------------------------------------------


@pytest.fixture
def temp_area(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where baker's private temporary directory (and docker-py's context tar) must go, and go away."""
    area = tmp_path / "tmp-area"
    area.mkdir()
    monkeypatch.setenv("TMPDIR", str(area))
    monkeypatch.setattr(tempfile, "tempdir", str(area))
    return area


def test_build_leaves_no_file_behind_when_it_succeeds(
    tmp_path: Path,
    temp_area: Path,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = _literal_manifest(
        tmp_path / "baker.yaml", {"TOKEN": "value-that-must-not-stay"}, base=busybox_base
    )
    assert main(["build", "-f", str(manifest), "--tag", image_names(), "--json"]) == 0
    image_names.track(json.loads(capsys.readouterr().out)["image_id"])
    assert list(temp_area.iterdir()) == []


def test_build_leaves_no_file_and_no_tag_when_the_base_is_missing(
    tmp_path: Path,
    temp_area: Path,
    docker_client: Any,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A registry on a loopback port nobody listens on: the engine's pull is refused at once, and no
    # traffic leaves the machine.
    missing = f"127.0.0.1:9/baker-test/missing-{uuid.uuid4().hex[:8]}:1"
    name = image_names()
    manifest = _literal_manifest(tmp_path / "baker.yaml", {"TOKEN": "value-that-must-not-stay"}, base=missing)
    assert main(["build", "-f", str(manifest), "--tag", name, "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["error"] == "EngineError"
    assert f"docker pull {missing}" in document["hint"]
    assert list(temp_area.iterdir()) == []
    assert not image_names.exists(name)


def test_build_leaves_no_file_and_no_tag_when_interrupted_as_the_engine_loads_the_image(
    temp_area: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine loaded the baked image, and the stop escaped before baker heard back: the undo
    knows the image by its id (the config's digest) and removes it."""
    values = {"TOKEN": f"value-{uuid.uuid4().hex}"}
    name = image_names()
    load = engine.load_config

    def load_then_stop(*args: Any, **kwargs: Any) -> str:
        load(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "load_config", load_then_stop)
    with pytest.raises(KeyboardInterrupt):
        bake(
            _manifest(values, busybox_base),
            _resolved(values),
            tags=[name],
            push=False,
            on_line=lambda line: None,
            client=docker_client,
        )
    assert list(temp_area.iterdir()) == []
    assert not image_names.exists(name)
    assert image_names.holding(values["TOKEN"]) == []  # nor any image holding the value


# -- atomic tagging -----------------------------------------------------------------------------


@pytest.fixture
def pre_existing(docker_client: Any, busybox_base: str, image_names: ImageNames) -> tuple[str, str]:
    """A tag that already points at an image: a failed bake must leave it where it is."""
    name = image_names("pre", "existing")
    repository, tag = name.rsplit(":", 1)
    docker_client.api.tag(busybox_base, repository, tag)
    return name, image_names.image_id(name)


def _app_context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_failed_app_build_creates_no_tag_and_moves_none(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    pre_existing: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    existing, existing_id = pre_existing
    fresh = image_names("fresh")
    _app_context(tmp_path, f"FROM {busybox_base}\nRUN echo about to fail && exit 3\n")
    token = f"value-{uuid.uuid4().hex}"
    manifest = _literal_manifest(
        tmp_path / "baker.yaml", {"TOKEN": token}, build={"context": "app"}, tags=(existing, fresh)
    )
    assert main(["build", "-f", str(manifest), "--json"]) == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["error"] == "EngineError"
    assert "the app build failed" in document["message"]
    assert "returned a non-zero code: 3" in document["message"]
    assert "about to fail" in captured.err  # the build output was streamed to stderr
    assert image_names.image_id(existing) == existing_id
    assert not image_names.exists(fresh)
    assert image_names.holding(token) == []


def test_bake_with_an_invalid_tag_builds_nothing_and_moves_no_tag(
    docker_client: Any, busybox_base: str, image_names: ImageNames, pre_existing: tuple[str, str]
) -> None:
    existing, existing_id = pre_existing
    values = {"TOKEN": "value-5678"}
    lines: list[str] = []
    with pytest.raises(RenderError, match="not a valid image name"):
        bake(
            _manifest(values, busybox_base),
            _resolved(values),
            tags=[existing, "Bad Name"],
            push=False,
            on_line=lines.append,
            client=docker_client,
        )
    assert lines == []
    assert image_names.image_id(existing) == existing_id


def test_restore_tags_puts_moved_tags_back_and_removes_created_ones(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    pre_existing: tuple[str, str],
) -> None:
    existing, existing_id = pre_existing
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox_base}\nLABEL other=yes\n")
    other_id = image_names.track(
        engine.build_image(
            tmp_path, build_args={}, labels={}, on_line=lambda line: None, client=docker_client
        )
    )
    fresh = image_names("fresh")
    undo = engine.tag(other_id, [existing, fresh], client=docker_client)
    assert image_names.image_id(existing) == other_id
    assert image_names.image_id(fresh) == other_id
    engine.restore_tags(undo, other_id, client=docker_client)
    assert image_names.image_id(existing) == existing_id
    assert not image_names.exists(fresh)


# -- the docker build wrapper -------------------------------------------------------------------


def test_wrapper_builds_the_app_target_with_its_args_then_bakes_on_it(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _app_context(
        tmp_path,
        f"FROM {busybox_base} AS app\n"
        "ARG GREETING\n"
        "ENV GREETING_SEEN=$GREETING\n"
        'LABEL stage="app"\n'
        "RUN echo built > /tmp/marker\n"
        "FROM app AS debug\n"
        'LABEL stage="debug"\n',
    )
    name = image_names()
    values = {"TOKEN": "baked-token-value", "LOG_LEVEL": "debug"}
    manifest = _literal_manifest(
        tmp_path / "baker.yaml",
        values,
        build={"context": "app", "target": "app", "args": {"GREETING": "hello there"}},
        tags=(name,),
    )
    assert main(["build", "-f", str(manifest), "--json"]) == 0
    image_names.track(json.loads(capsys.readouterr().out)["image_id"])
    info = engine.inspect_image(name, client=docker_client)
    assert info is not None
    _assert_baked(info, values)
    assert _env(info)["GREETING_SEEN"] == "hello there"
    assert info.labels["stage"] == "app"
    assert LABEL in info.labels


# -- limits and engine errors -------------------------------------------------------------------


def test_build_bakes_values_larger_than_a_build_request_could_carry(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Values travel in the loaded config, not in a request's query string: no 1 MB limit."""
    name = image_names()
    values = {"HUGE_CERT_BUNDLE": "Q" * (1200 * 1024), "SMALL": "fine"}
    manifest = _literal_manifest(tmp_path / "baker.yaml", values, base=busybox_base, tags=(name,))
    assert main(["build", "-f", str(manifest), "--json"]) == 0
    captured = capsys.readouterr()
    image_names.track(json.loads(captured.out)["image_id"])
    assert "QQQQQQQQ" not in captured.out + captured.err
    info = engine.inspect_image(name, client=docker_client)
    assert info is not None and _env(info)["HUGE_CERT_BUNDLE"] == values["HUGE_CERT_BUNDLE"]


def test_engine_error_never_quotes_the_request_url_when_the_engine_refuses_a_build(
    tmp_path: Path, docker_client: Any, busybox_base: str
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox_base}\nARG A\nNOT_AN_INSTRUCTION $A\n")
    with pytest.raises(EngineError) as caught:
        engine.build_image(
            tmp_path, build_args={"A": canary}, labels={}, on_line=lambda line: None, client=docker_client
        )
    text = str(caught.value) + str(caught.value.to_json())
    assert "NOT_AN_INSTRUCTION" in text.upper() or "unknown instruction" in text.lower()
    assert canary not in text and "buildargs" not in text and "http+docker" not in text


def test_build_if_stale_skips_when_the_tagged_image_is_current_and_bakes_when_changed(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = image_names()
    manifest = _literal_manifest(
        tmp_path / "baker.yaml", {"LOG_LEVEL": "info"}, base=busybox_base, tags=(name,)
    )
    assert main(["build", "-f", str(manifest), "--json"]) == 0
    first = image_names.track(json.loads(capsys.readouterr().out)["image_id"])

    assert main(["build", "-f", str(manifest), "--if-stale", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["skipped"] is True and document["image_id"] is None
    assert image_names.image_id(name) == first

    _literal_manifest(tmp_path / "baker.yaml", {"LOG_LEVEL": "debug"}, base=busybox_base, tags=(name,))
    assert main(["build", "-f", str(manifest), "--if-stale", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    image_names.track(document["image_id"])
    assert document["image_id"] != first
    info = engine.inspect_image(name, client=docker_client)
    assert info is not None and _env(info)["LOG_LEVEL"] == "debug"


def test_build_uses_the_manifests_tag_when_no_tag_is_given(
    tmp_path: Path, docker_client: Any, busybox_base: str, image_names: ImageNames
) -> None:
    manifest_tag = image_names("manifest")
    manifest = _literal_manifest(
        tmp_path / "baker.yaml", {"A": "a-value"}, base=busybox_base, tags=(manifest_tag,)
    )
    assert main(["build", "-f", str(manifest)]) == 0
    info = engine.inspect_image(manifest_tag, client=docker_client)
    assert info is not None
    image_names.track(info.id)


# -- the previous baked image ---------------------------------------------------------------------


def _bake_cli(manifest: Path, names: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    flags = [flag for name in names for flag in ("--tag", name)]
    assert main(["build", "-f", str(manifest), *flags, "--json"]) == 0
    captured = capsys.readouterr()
    document: dict[str, Any] = json.loads(captured.out)
    document["stderr"] = captured.err
    return document


def test_rebake_removes_the_previous_baked_image_and_its_old_values_when_it_is_left_untagged(
    tmp_path: Path, busybox_base: str, image_names: ImageNames, capsys: pytest.CaptureFixture[str]
) -> None:
    name = image_names()
    old, new = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    manifest = _literal_manifest(tmp_path / "baker.yaml", {"TOKEN": old}, base=busybox_base)
    first = image_names.track(_bake_cli(manifest, [name], capsys)["image_id"])
    _literal_manifest(manifest, {"TOKEN": new}, base=busybox_base)

    document = _bake_cli(manifest, [name], capsys)

    image_names.track(document["image_id"])
    assert document["removed"] == [first]
    assert f"removed the previous baked image {first} (untagged, held old values)" in document["stderr"]
    assert not image_names.exists(first)
    assert image_names.holding(old) == []  # no other image holds the old value
    assert image_names.image_id(name) == document["image_id"]


def test_rebake_keeps_the_previous_baked_image_while_another_tag_names_it(
    tmp_path: Path, busybox_base: str, image_names: ImageNames, capsys: pytest.CaptureFixture[str]
) -> None:
    name, other = image_names("moved"), image_names("kept")
    manifest = _literal_manifest(tmp_path / "baker.yaml", {"TOKEN": "v1"}, base=busybox_base)
    first = image_names.track(_bake_cli(manifest, [name, other], capsys)["image_id"])
    _literal_manifest(manifest, {"TOKEN": "v2"}, base=busybox_base)

    document = _bake_cli(manifest, [name], capsys)

    image_names.track(document["image_id"])
    assert document["removed"] == []
    assert image_names.image_id(other) == first


def test_rebake_keeps_an_image_baker_did_not_bake_that_the_tag_named(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = image_names()
    dockerfile = f"FROM {busybox_base}\nENV NOT_BAKED={uuid.uuid4().hex}\n".encode()
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile), rm=True, network_mode="none")
    foreign = image_names.track(image.id)
    image.tag(name)
    manifest = _literal_manifest(tmp_path / "baker.yaml", {"TOKEN": "v1"}, base=busybox_base)

    document = _bake_cli(manifest, [name], capsys)

    image_names.track(document["image_id"])
    assert document["removed"] == []
    assert image_names.exists(foreign)


def test_rebake_keeps_the_previous_baked_image_while_a_container_uses_it(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = image_names()
    manifest = _literal_manifest(tmp_path / "baker.yaml", {"TOKEN": "v1"}, base=busybox_base)
    first = image_names.track(_bake_cli(manifest, [name], capsys)["image_id"])
    container = docker_client.api.create_container(first, network_disabled=True)  # created, never run
    try:
        _literal_manifest(manifest, {"TOKEN": "v2"}, base=busybox_base)
        document = _bake_cli(manifest, [name], capsys)
        image_names.track(document["image_id"])
        assert document["removed"] == []
        assert image_names.exists(first)
    finally:
        docker_client.api.remove_container(container["Id"], force=True)


def test_build_without_a_tag_says_the_untagged_image_holds_the_values_and_how_to_remove_it(
    tmp_path: Path, busybox_base: str, image_names: ImageNames, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _literal_manifest(tmp_path / "baker.yaml", {"TOKEN": "v1"}, base=busybox_base)
    assert main(["build", "-f", str(manifest)]) == 0
    out = capsys.readouterr().out
    built = re.search(r"built (\S+)", out)
    assert built is not None
    image_id = image_names.track(built.group(1))
    assert f"untagged and holds the values: remove it with `docker image rm {image_id}`" in out
    assert image_names.exists(image_id)

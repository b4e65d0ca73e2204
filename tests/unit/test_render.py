"""The renderer: a Dockerfile without values, an env layer that round-trips every value, private files."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baker import render as renderer
from baker.errors import RenderError
from baker.imageref import validate_base, validate_tag
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest
from baker.provenance import LABEL
from baker.render import BAKE_FILE, DOCKERFILE, render, render_texts
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.conftest import unavailable
from tests.support.manifests import write_manifest

AWKWARD = {
    "PEM": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
    "-----END PRIVATE KEY-----\n",
    "QUOTES": 'it\'s "quoted" `tick`',
    "DOLLAR": "$HOME ${PATH} $$ $1 $",
    "BACKSLASH": "C:\\path\\to\\ \\n not a newline \\",
    "HASH": "# not a comment #",
    "EQUALS": "a=b==c=",
    "TAB": "col1\tcol2\t",
    "CRLF": "line one\r\nline two\r\n",
    "SPACES": "   padded both sides   ",
    "UNICODE": "héllo wörld ✓ 日本語 😀 \U0001d518",
    "CONTROL": "bell\x07 esc\x1b del\x7f nbsp\xa0 ls\u2028 ps\u2029",
    "JSONISH": '{"a": [1, 2], "b": "}"}',
    "TEMPLATE": "{{ base }} {% if x %} {# c #}",
    "EMPTY": "",
}


def _resolved(values: dict[str, str]) -> ResolvedEnv:
    return ResolvedEnv(
        tuple(
            Resolved(env=name, value=Secret(value), source=LiteralValue(value), version=None, properties=None)
            for name, value in values.items()
        )
    )


def _manifest(values: dict[str, str]) -> Manifest:
    return Manifest(
        path="baker.yaml",
        image=ImageSpec(base="baker-test/busybox:1", build=None),
        credentials={},
        env=tuple(EnvEntry(name, LiteralValue(value)) for name, value in values.items()),
    )


def _bake_target(text: str) -> dict[str, object]:
    target: dict[str, object] = json.loads(text)["target"]["default"]
    return target


_ENV_LINE = re.compile(r"    ([A-Za-z_][A-Za-z0-9_]*)=\$\{([A-Za-z_][A-Za-z0-9_]*)\}(?: \\)?\Z")


def _arg_of(dockerfile: str) -> dict[str, str]:
    """env name -> the build argument its ENV reads, from the Dockerfile's text."""
    return dict(m.groups() for line in dockerfile.splitlines() if (m := _ENV_LINE.match(line)))


def _baked(dockerfile: str, bake: str) -> dict[str, str]:
    """env name -> value, as a builder would set them: the Dockerfile's ENV over the bake file's args."""
    args = _bake_target(bake)["args"]
    assert isinstance(args, dict)
    return {name: args[arg] for name, arg in _arg_of(dockerfile).items()}


def _written(files: renderer.RenderedFiles) -> dict[str, str]:
    assert files.bake_file is not None
    return _baked(files.dockerfile.read_text(encoding="utf-8"), files.bake_file.read_text(encoding="utf-8"))


def test_dockerfile_holds_no_value_when_values_are_awkward() -> None:
    dockerfile, _ = render_texts(AWKWARD, base="baker-test/busybox:1", labels={}, tags=[])
    for value in AWKWARD.values():
        if len(value) >= 3:
            assert value not in dockerfile
    assert "héllo" not in dockerfile and "BEGIN" not in dockerfile


def test_dockerfile_declares_an_arg_and_an_env_per_variable_and_nothing_else() -> None:
    dockerfile, _ = render_texts(
        {"A": "1", "B_2": "2"},
        base="registry.example.com/app:1.4.2",
        labels={},
        tags=[],
        arg_names={"A": "baker_t_A", "B_2": "baker_t_B_2"},
    )
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert instructions == ["FROM registry.example.com/app:1.4.2",
                            "ARG \\", "    baker_t_A \\", "    baker_t_B_2",
                            "ENV \\", "    A=${baker_t_A} \\", "    B_2=${baker_t_B_2}"]  # fmt: skip


def test_build_arguments_are_never_named_like_a_variable_and_differ_per_rendering() -> None:
    # A base image's ENV of the same name would win over the build argument in `${NAME}`.
    values = {"PATH": "/bin", "DB_PASSWORD": "pw-value", "lower": "x"}
    first, first_bake = render_texts(values, base="b", labels={}, tags=[])
    second, _ = render_texts(values, base="b", labels={}, tags=[])
    assert set(_arg_of(first)) == set(values)
    assert not set(_arg_of(first).values()) & set(values)
    assert set(_arg_of(first).values()).isdisjoint(_arg_of(second).values())  # unpredictable by a base
    assert _baked(first, first_bake) == values


@pytest.mark.parametrize(
    "arg_names",
    [
        {"A": "A", "B": "baker_x_B"},  # the variable's own name: a base's ENV would win
        {"A": "B", "B": "baker_x_B"},  # another variable's name
        {"A": "baker_x", "B": "baker_x"},  # shared
        {"A": "baker x", "B": "baker_x_B"},  # not a name
        {"B": "baker_x_B"},  # missing
    ],
)
def test_render_refuses_build_argument_names_that_could_collide(arg_names: dict[str, str]) -> None:
    with pytest.raises(RenderError, match="build arguments' names"):
        render_texts({"A": "1", "B": "2"}, base="b", labels={}, tags=[], arg_names=arg_names)


def test_dockerfile_is_only_from_when_there_are_no_variables() -> None:
    dockerfile, bake = render_texts({}, base="baker-test/busybox:1", labels={}, tags=[])
    assert [line for line in dockerfile.splitlines() if line and not line.startswith("#")] == [
        "FROM baker-test/busybox:1"
    ]
    assert _bake_target(bake)["args"] == {}


def test_dockerfile_leading_comment_is_not_a_parser_directive() -> None:
    # `# key=value` lines at the top of a Dockerfile are parser directives (escape=, syntax=).
    dockerfile, _ = render_texts({"A": "1"}, base="b", labels={}, tags=[])
    for line in dockerfile.splitlines():
        if not line.startswith("#"):
            break
        assert "=" not in line


def test_bake_file_round_trips_every_awkward_value() -> None:
    labels = {LABEL: '{"v":1,"env":{"PEM":{"literal":true}}}'}
    dockerfile, bake = render_texts(
        AWKWARD, base="baker-test/busybox:1", labels=labels, tags=["example.com/app:1"]
    )
    target = _bake_target(bake)
    assert _baked(dockerfile, bake) == AWKWARD
    assert set(target["args"]) == set(_arg_of(dockerfile).values())  # type: ignore[arg-type]
    assert target["labels"] == labels
    assert target["tags"] == ["example.com/app:1"]
    assert target["context"] == "." and target["dockerfile"] == DOCKERFILE


def test_bake_file_keeps_non_ascii_as_itself() -> None:
    _, bake = render_texts({"U": "日本語 😀"}, base="b", labels={}, tags=[])
    assert "日本語 😀" in bake


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
_VALUES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, max_size=8))
def test_bake_file_round_trips_any_value_when_values_are_arbitrary(values: dict[str, str]) -> None:
    dockerfile, bake = render_texts(values, base="baker-test/busybox:1", labels={}, tags=[])
    assert _baked(dockerfile, bake) == values
    assert len(_bake_target(bake)["args"]) == len(values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"NUL": "a\x00b"}, "NUL"),
        ({"SURROGATE": "a\ud800b"}, "surrogate"),
        ({"1BAD": "x"}, "not a valid environment variable name"),
        ({"BAD-NAME": "x"}, "not a valid environment variable name"),
    ],
)
def test_render_refuses_values_no_environment_can_carry(values: dict[str, str], message: str) -> None:
    with pytest.raises(RenderError, match=message) as caught:
        render_texts(values, base="b", labels={}, tags=[])
    assert "a\x00b" not in caught.value.message


@pytest.mark.parametrize(
    "base",
    [
        "busybox",
        "baker-test/busybox:1",
        "registry.example.com/app:1.4.2",
        "127.0.0.1:5000/team/app:tag_1.0-rc",
        "localhost/app@sha256:" + "a" * 64,
        "sha256:" + "0" * 64,
        "[::1]:5000/app:1",
    ],
)
def test_valid_base_references_are_accepted(base: str) -> None:
    assert validate_base(base) == base


@pytest.mark.parametrize(
    "base",
    ["", "app:1\nRUN rm -rf /", "app:$TAG", "${BASE}", "app:1 AS x", "App:1", "app::1", "-app", "app:1#x"],
)
def test_invalid_base_references_are_refused(base: str) -> None:
    with pytest.raises(RenderError, match="not a valid image reference"):
        validate_base(base)


@pytest.mark.parametrize(
    "tag", ["app:1\n", "app:$V", "app@sha256:" + "a" * 64, "team/UPPER:1", "app:" + "x" * 129, "app:-x"]
)
def test_invalid_tags_are_refused(tag: str) -> None:
    with pytest.raises(RenderError, match="not a valid image name"):
        validate_tag(tag)


def test_templates_use_strict_undefined() -> None:
    env = renderer._environment()
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("Dockerfile.j2").render(names=["A"])  # no `base`


def test_templates_are_sandboxed_and_unescaped() -> None:
    env = renderer._environment()
    assert isinstance(env, jinja2.sandbox.ImmutableSandboxedEnvironment)
    assert env.autoescape is False


def test_render_writes_owner_only_files_in_an_owner_only_directory(tmp_path: Path) -> None:
    out_dir = tmp_path / "out" / "nested"
    files = render(
        _resolved(AWKWARD), _manifest(AWKWARD), out_dir, base="baker-test/busybox:1", tags=["x/y:1"]
    )
    assert files.directory == out_dir
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([DOCKERFILE, BAKE_FILE])
    assert stat.S_IMODE(out_dir.stat().st_mode) == 0o700
    for path in files.files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    target = _bake_target(files.bake_file.read_text(encoding="utf-8"))
    assert _written(files) == AWKWARD
    assert LABEL in target["labels"]  # type: ignore[operator]


def test_render_narrows_an_existing_directory_and_never_widens_it(tmp_path: Path) -> None:
    out_dir = tmp_path / "existing"
    out_dir.mkdir(mode=0o755)
    out_dir.chmod(0o755)
    render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), out_dir, base="b")
    assert stat.S_IMODE(out_dir.stat().st_mode) == 0o700
    out_dir.chmod(0o500 | 0o200)
    render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), out_dir, base="b")
    assert stat.S_IMODE(out_dir.stat().st_mode) == 0o700


def test_render_replaces_previous_files_and_a_planted_symlink_without_following_it(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    render(_resolved({"A": "first-value"}), _manifest({"A": "first-value"}), out_dir, base="b")
    (out_dir / BAKE_FILE).unlink()
    (out_dir / BAKE_FILE).symlink_to(victim)
    files = render(_resolved({"A": "second-value"}), _manifest({"A": "second-value"}), out_dir, base="b")
    assert victim.read_text() == "untouched"
    bake_file = out_dir / BAKE_FILE
    assert not bake_file.is_symlink()
    assert _written(files) == {"A": "second-value"}
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([DOCKERFILE, BAKE_FILE])


def test_render_refuses_a_directory_others_can_write(tmp_path: Path) -> None:
    out_dir = tmp_path / "shared"
    out_dir.mkdir()
    out_dir.chmod(0o777)
    with pytest.raises(RenderError, match="writable by other users"):
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), out_dir, base="b")
    assert list(out_dir.iterdir()) == []


def test_render_refuses_a_file_where_the_directory_should_be(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(RenderError, match="not a directory"):
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), target, base="b")


def test_render_refuses_a_directory_another_user_owns(tmp_path: Path) -> None:
    if os.getuid() != 0:  # CI runs as root: there this test always runs, never skips
        unavailable("needs root to make a directory owned by someone else")
    out_dir = tmp_path / "theirs"
    out_dir.mkdir(mode=0o700)
    os.chown(out_dir, 12345, 12345)
    with pytest.raises(RenderError, match="belongs to another user"):
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), out_dir, base="b")


def test_render_validates_before_writing_anything(tmp_path: Path) -> None:
    out_dir = tmp_path / "never"
    with pytest.raises(RenderError):
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), out_dir, base="bad base")
    assert not out_dir.exists()


# -- the `render` command -----------------------------------------------------------------------


def test_render_command_writes_the_directory_and_reports_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from baker.cli import main

    values = {"LOG_LEVEL": "info", "QUOTED": 'a "b" $c \\d'}
    manifest = write_manifest(tmp_path / "baker.yaml", base="baker-test/busybox:1", tag="x/app:1", env=values)
    out_dir = tmp_path / "rendered"
    assert main(["render", "-f", str(manifest), "--out", str(out_dir), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "out": str(out_dir),
        "files": [str(out_dir / DOCKERFILE), str(out_dir / BAKE_FILE)],
        "env": list(values),
    }
    bake_text = (out_dir / BAKE_FILE).read_text(encoding="utf-8")
    target = _bake_target(bake_text)
    assert _baked((out_dir / DOCKERFILE).read_text(encoding="utf-8"), bake_text) == values
    assert target["tags"] == ["x/app:1"]
    assert json.loads(target["labels"][LABEL])["env"] == {
        "LOG_LEVEL": {"literal": True},
        "QUOTED": {"literal": True},
    }  # type: ignore[index]


def test_render_command_says_how_to_build_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from baker.cli import main

    manifest = write_manifest(
        tmp_path / "baker.yaml", image={"from": "baker-test/busybox:1"}, env={"A": "value-a"}
    )
    assert main(["render", "-f", str(manifest), "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert f"docker buildx bake -f {tmp_path / 'o' / BAKE_FILE}" in text
    assert "value-a" not in text


def test_render_command_refuses_an_image_build_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from baker.cli import main

    manifest = write_manifest(
        tmp_path / "baker.yaml", image={"build": {"context": "."}}, env={"A": "value-a"}
    )
    assert main(["render", "-f", str(manifest), "--out", str(tmp_path / "o"), "--json"]) == 2
    assert "image.from" in json.loads(capsys.readouterr().out)["message"]
    assert not (tmp_path / "o").exists()


def test_missing_parents_of_the_output_are_made_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        out_dir = tmp_path / "a" / "b" / "out"
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), out_dir, base="b")
    finally:
        os.umask(previous)
    for made in (tmp_path / "a", tmp_path / "a" / "b", out_dir):
        assert made.stat().st_mode & 0o077 == 0


def test_an_output_below_a_world_writable_non_sticky_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(RenderError, match="writable by every user"):
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), shared / "out", base="b")
    assert not (shared / "out").exists()
    shared.chmod(0o1777)  # sticky, as /tmp: others cannot rename what is ours
    render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), shared / "out", base="b")


# -- where render may write ---------------------------------------------------------------------


def _app_directory(root: Path) -> Path:
    app = root / "app"
    (app / "src").mkdir(parents=True)
    app.chmod(0o755)
    (app / DOCKERFILE).write_text("FROM python:3.12\nCOPY src /src\n")
    (app / "src" / "main.py").write_text("print('hi')\n")
    return app


def test_render_refuses_a_non_empty_directory_it_did_not_render(tmp_path: Path) -> None:
    app = _app_directory(tmp_path)
    with pytest.raises(RenderError, match="not empty") as caught:
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), app, base="b")
    assert caught.value.hint is not None and "new directory" in caught.value.hint
    assert (app / DOCKERFILE).read_text() == "FROM python:3.12\nCOPY src /src\n"  # the app's own, kept
    assert stat.S_IMODE(app.stat().st_mode) == 0o755  # not narrowed
    assert sorted(p.name for p in app.iterdir()) == [DOCKERFILE, "src"]


@pytest.mark.parametrize(
    "files",
    [
        {DOCKERFILE: "FROM app:1\n"},  # someone's Dockerfile alone
        {BAKE_FILE: "{}"},  # someone's bake file alone
        {DOCKERFILE: "FROM app:1\n", BAKE_FILE: "{}"},  # a buildx project of their own
        {".env": "A=1\n"},
    ],
    ids=["dockerfile", "bake-file", "both", "other"],
)
def test_render_refuses_a_directory_holding_files_it_did_not_write(
    tmp_path: Path, files: dict[str, str]
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir(mode=0o700)
    for name, text in files.items():
        (out_dir / name).write_text(text)
    with pytest.raises(RenderError, match="not empty"):
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), out_dir, base="b")
    assert {p.name: p.read_text() for p in out_dir.iterdir()} == files


def test_render_command_refuses_out_dot_in_an_app_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from baker.cli import main

    app = _app_directory(tmp_path)
    manifest = write_manifest(
        app / "baker.yaml", image={"from": "baker-test/busybox:1"}, env={"A": "value-a"}
    )
    monkeypatch.chdir(app)
    assert main(["render", "-f", str(manifest), "--out", ".", "--json"]) == 1
    assert "not empty" in json.loads(capsys.readouterr().out)["message"]
    assert (app / DOCKERFILE).read_text() == "FROM python:3.12\nCOPY src /src\n"
    assert not (app / BAKE_FILE).exists()


def test_an_output_below_a_group_writable_non_sticky_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "team"
    shared.mkdir()
    shared.chmod(0o775)
    with pytest.raises(RenderError, match="writable by other users"):
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), shared / "out", base="b")
    assert not (shared / "out").exists()
    shared.chmod(0o1775)  # sticky: the group cannot rename what is ours
    render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), shared / "out", base="b")


def test_an_output_below_a_directory_another_user_owns_is_refused(tmp_path: Path) -> None:
    if os.getuid() != 0:  # CI runs as root: there this test always runs, never skips
        unavailable("needs root to make a directory owned by someone else")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 12345, 12345)
    with pytest.raises(RenderError, match="belongs to another user"):
        render(_resolved({"A": "value-1"}), _manifest({"A": "value-1"}), theirs / "out", base="b")
    assert not (theirs / "out").exists()

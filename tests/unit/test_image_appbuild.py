"""The app build's offline parts: what a Dockerfile needs of BuildKit (`appbuild.needs`), the
manifest's `image.build` block, `plan`'s build secrets, and their resolution with the env's."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from baker.cli import main
from baker.diagnose import Diagnosis
from baker.errors import EngineError, ManifestError, ResolutionFailed, UsageError
from baker.image.appbuild import AppBuild, _argv, _secret_files
from baker.image.appbuild.docker_cli import LINE_SHOWN, DockerCli, Route, run
from baker.image.appbuild.needs import buildkit_needs, dockerfile_ignore
from baker.manifest.checks import load
from baker.model import BuildSpec, ImageSpec
from baker.pipeline import _same_engine
from baker.resolver import resolve
from baker.secret import MASK, REDACTOR, Secret
from tests.unit.test_resolver import fake, manifest, ref


@pytest.mark.parametrize(
    ("dockerfile", "needs"),
    [
        ("FROM a\nRUN make\nCOPY --chown=1:1 . /app\n", []),
        ("# syntax=docker/dockerfile:1.7\nFROM a\n", ["the `# syntax=docker/dockerfile:1.7` directive"]),
        ("FROM a\n# syntax=docker/dockerfile:1\n", []),  # not a directive below FROM: a comment
        ("FROM a\nRUN --mount=type=cache,target=/root/.cache pip install .\n", ["`RUN --mount`"]),
        ("FROM a\nRUN \\\n  --mount=type=secret,id=npm npm ci\n", ["`RUN --mount`"]),
        ("# escape=`\nFROM a\nRUN `\n  --mount=type=secret,id=x true\n", ["`RUN --mount`"]),
        ("FROM a\nRUN --network=none true\n", ["`RUN --network`"]),
        ("FROM a\nCOPY --link . /app\n", ["`COPY --link`"]),
        ("FROM a\ncopy --chmod=755 run.sh /\n", ["`COPY --chmod`"]),
        ("FROM a\nADD --checksum=sha256:00 https://x/y /y\n", ["`ADD --checksum`"]),
        ("FROM a\nRUN <<EOF\nmake\nEOF\n", ["a heredoc (`RUN <<EOF`)"]),
        ("FROM a\nCOPY <<-'END' /etc/conf\nx\nEND\n", ["a heredoc (`COPY <<EOF`)"]),
        ("FROM a\nRUN echo '--mount' > /x\n", []),  # a word in the command, not a flag of RUN
    ],
)
def test_buildkit_needs_names_each_feature_the_classic_builder_lacks(
    dockerfile: str, needs: list[str]
) -> None:
    assert buildkit_needs(dockerfile) == needs


def test_dockerfile_ignore_is_the_file_beside_the_dockerfile_named_after_it(tmp_path: Path) -> None:
    dockerfile = tmp_path / "app.Dockerfile"
    dockerfile.write_text("FROM a\n")
    assert dockerfile_ignore(dockerfile) is None
    (tmp_path / "app.Dockerfile.dockerignore").write_text("secret.txt\n")
    assert dockerfile_ignore(dockerfile) == tmp_path / "app.Dockerfile.dockerignore"


PINNED = "4c5e2a0000000000000000000000abcd"
MANIFEST = """\
version: 1
image:
  build:
    context: app
    secrets:
      npm_token: {secret: npm-token}
      pip.conf: {secret: pip_index#conf, credential: other, version: 4C5E2A0000000000000000000000ABCD}
    network: none
    platforms: [linux/amd64, linux/arm64/v8]
    push: registry.example.com/app:1.4.2
  tag: registry.example.com/app:1.4.2-baked
credentials:
  main: {provider: azure-key-vault, vault_url: "https://v.vault.azure.net", tenant_id: t, client_id: c,
         client_secret: "${SP}", default: true}
  other: {provider: azure-key-vault, vault_url: "https://o.vault.azure.net", tenant_id: t, client_id: c,
          client_secret: "${SP}"}
env:
  DB: {secret: npm-token}
"""


def test_build_block_parses_secrets_network_platforms_and_push(tmp_path: Path) -> None:
    path = tmp_path / "baker.yaml"
    path.write_text(MANIFEST)
    loaded = load(path, environ={"SP": "sp-secret-value"})
    build = loaded.image.build
    assert build is not None
    assert (build.network, build.platforms, build.push) == (
        "none",
        ("linux/amd64", "linux/arm64/v8"),
        build.push,
    )
    assert build.push == "registry.example.com/app:1.4.2"
    npm, pip = build.secrets["npm_token"], build.secrets["pip.conf"]
    assert (npm.name, npm.credential, npm.version) == ("npm-token", "main", None)
    assert (pip.name, pip.key, pip.credential, pip.version) == ("pip-index", "conf", "other", PINNED)
    assert loaded.used_credentials == ("main", "other")  # a build secret's credential is used


@pytest.mark.parametrize(
    ("replace", "by", "key", "fragment"),
    [
        (
            "npm_token: {secret: npm-token}",
            '"npm,token": {secret: npm-token}',
            "image.build.secrets.npm,token",
            "id",
        ),
        (
            "npm_token: {secret: npm-token}",
            "npm_token: npm-token",
            "image.build.secrets.npm_token",
            "mapping",
        ),
        ("npm_token: {secret: npm-token}", "npm_token: {secret: n, credential: nope}", "credential", "nope"),
        ("npm_token: {secret: npm-token}", "npm_token: {secret: n, versio: x}", "npm_token", "versio"),
        ("network: none", "network: 'a b'", "image.build.network", "network"),
        ("linux/arm64/v8", "Linux/ARM64", "image.build.platforms[1]", "platform"),
        ("push: registry.example.com/app:1.4.2", "push: 'a b'", "image.build.push", "image reference"),
    ],
)
def test_build_block_problems_name_their_key(
    tmp_path: Path, replace: str, by: str, key: str, fragment: str
) -> None:
    path = tmp_path / "baker.yaml"
    path.write_text(MANIFEST.replace(replace, by))
    with pytest.raises(ManifestError) as caught:
        load(path, environ={"SP": "sp-secret-value"})
    assert any(key in p.key and fragment in p.message for p in caught.value.problems), caught.value.problems


def test_plan_lists_build_secrets_with_their_shared_fetch_and_no_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "baker.yaml"
    path.write_text(MANIFEST)
    assert main(["plan", "-f", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = {row["id"]: row for row in document["build_secrets"]}
    assert rows["npm_token"]["shared_with"] == "DB" and rows["npm_token"]["fetch"] == 1
    assert rows["pip.conf"]["shared_with"] is None and rows["pip.conf"]["version"] == PINNED


def test_build_secrets_resolve_with_the_env_one_fetch_each_masked_and_never_in_entries() -> None:
    provider = fake(npm_token="npm-value-1234", db_password="db-value-5678")
    m = manifest({"DB": ref("db-password")})
    spec = BuildSpec(context=".", secrets={"npm": ref("npm-token"), "db": ref("db_password")})
    m = type(m)(path=m.path, image=ImageSpec(base=None, build=spec), credentials=m.credentials, env=m.env)
    got = resolve(m, providers={"main": provider})
    assert sorted(name for name, _ in provider.calls) == ["db-password", "npm-token"]
    assert [e.env for e in got.entries] == ["DB"]
    assert {e.env: e.value.reveal() for e in got.build_secrets} == {
        "npm": "npm-value-1234",
        "db": "db-value-5678",
    }
    assert REDACTOR.redact("token npm-value-1234") == f"token {MASK}"


def test_a_failed_build_secret_is_named_by_its_key_in_the_manifest() -> None:
    provider = fake(db_password="db-value-5678")
    provider.fail("npm-token", Diagnosis.SECRET_NOT_FOUND)
    m = manifest({"DB": ref("db-password")})
    spec = BuildSpec(context=".", secrets={"npm": ref("npm-token")})
    m = type(m)(path=m.path, image=ImageSpec(base=None, build=spec), credentials=m.credentials, env=m.env)
    with pytest.raises(ResolutionFailed) as caught:
        resolve(m, providers={"main": provider})
    assert [(f.env, f.error.diagnosis) for f in caught.value.failures] == [
        ("image.build.secrets.npm", Diagnosis.SECRET_NOT_FOUND)
    ]


class _Info:
    """An engine client that answers `info` only (the seam `_same_engine` reads)."""

    def __init__(self, engine_id: str, root: str) -> None:
        self._info = {"ID": engine_id, "DockerRootDir": root}

    def info(self) -> dict[str, str]:
        return self._info


@pytest.mark.parametrize(
    ("cli_engine", "client_engine", "refused"),
    [
        ("K1 /var/lib/docker", ("K1", "/var/lib/docker"), False),
        ("K1 /var/lib/other", ("K1", "/var/lib/docker"), True),  # one key, two engines: the root tells
        ("K2 /var/lib/docker", ("K1", "/var/lib/docker"), True),
        ("", ("K1", "/var/lib/docker"), False),  # the CLI could not say: the bake's own lookup decides
    ],
)
def test_the_cli_and_baker_must_talk_to_one_engine_for_the_engine_road(
    cli_engine: str, client_engine: tuple[str, str], refused: bool
) -> None:
    app = AppBuild(
        DockerCli("/usr/bin/docker", "20.10.24", "buildkit", None, cli_engine),
        BuildSpec("."),
        Path(),
        Path(),
        None,
    )
    client = cast(Any, _Info(*client_engine))
    if refused:
        with pytest.raises(UsageError, match="another Docker engine"):
            _same_engine(app, client)
    else:
        _same_engine(app, client)


def _app(route: str, spec: BuildSpec, push: str | None = None) -> AppBuild:
    cli = DockerCli("/opt/docker", "27.0.0", cast(Route, route))
    return AppBuild(cli, spec, Path("/ctx"), Path("/ctx/app.Dockerfile"), push)


SPEC = BuildSpec(
    ".",
    target="runtime",
    args={"PY": "3.12"},
    network="none",
    platforms=("linux/amd64", "linux/arm64"),
)


@pytest.mark.parametrize(
    ("route", "push", "expected"),
    [
        ("buildx", None, ["buildx", "build", "--progress", "plain", "--load"]),
        (
            "buildx",
            "r.example/app:1",
            ["buildx", "build", "--tag", "r.example/app:1", "--push", "--metadata-file"],
        ),
        ("buildkit", "r.example/app:1", ["build", "--progress", "plain", "--tag", "r.example/app:1"]),
        ("classic", None, ["build", "--iidfile"]),
    ],
)
def test_the_argv_carries_every_build_option_and_no_value(
    route: str, push: str | None, expected: list[str]
) -> None:
    argv = _argv(_app(route, SPEC, push), Path("/private"), ["--secret", "id=npm,src=/proc/42/fd/7"])
    assert argv[0] == "/opt/docker" and argv[-2:] == ["--", "/ctx"]
    words = iter(argv)
    assert all(word in words for word in expected)  # in this order
    flags = dict(itertools.pairwise(argv))
    assert flags["--file"] == "/ctx/app.Dockerfile" and flags["--target"] == "runtime"
    assert flags["--build-arg"] == "PY=3.12" and flags["--network"] == "none"
    assert flags["--platform"] == "linux/amd64,linux/arm64"
    assert flags["--secret"] == "id=npm,src=/proc/42/fd/7"  # a descriptor, never its value
    assert ("--progress" in argv) == (route != "classic")
    assert ("--push" in argv) == (route == "buildx" and push is not None)


def test_the_childs_lines_are_redacted_whole_before_any_cut_and_escaped() -> None:
    value = "build-output-canary-9f8e7d6c"
    REDACTOR.register(Secret(value), label="CANARY")
    script = (
        "import sys\n"
        f"sys.stdout.write('x' * {LINE_SHOWN - 10} + {value!r} + 'tail\\n'); sys.stdout.flush()\n"
        f"sys.stderr.write('err: ' + {value!r} + ' \\x1b[31m red\\n'); sys.stderr.flush()\n"
        f"sys.stdout.write('::error::' + {value!r} + '\\n')\n"
    )
    lines: list[str] = []
    finished = run([sys.executable, "-c", script], environ=dict(os.environ), on_line=lines.append)
    assert finished.returncode == 0
    assert len(lines) == 3
    assert value not in "".join(lines)  # not even split across two lines
    assert lines[0].endswith(f"{MASK}tail") or lines[0].endswith("[line cut]")
    assert MASK in lines[1] and "\x1b" not in lines[1]
    assert not lines[2].startswith("::")


def test_a_cli_that_cannot_be_run_is_an_engine_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "docker"
    with pytest.raises(EngineError, match="could not run the docker CLI") as caught:
        run([str(missing), "build"], environ={}, on_line=lambda line: None)
    assert caught.value.hint is not None and "BAKER_DOCKER" in caught.value.hint


def test_a_build_secret_is_a_sealed_memory_file_that_every_open_reads_whole() -> None:
    """What the docker CLI gets for `src=/proc/PID/fd/N`: it stats the path, then reads it whole each time
    BuildKit asks; a NUL is fine in a file (no environment carries it)."""
    value = "line one\nnul\x00inside \u00e9"
    descriptors = _secret_files({"npm": Secret(value)})
    try:
        path = Path(f"/proc/{os.getpid()}/fd/{descriptors['npm']}")
        assert path.stat().st_size == len(value.encode())
        for _ in range(2):  # a second RUN mounting it reads it whole again
            assert path.read_bytes() == value.encode()
        with pytest.raises(PermissionError):  # sealed: nobody changes it after baker wrote it
            os.write(descriptors["npm"], b"x")
        assert not os.get_inheritable(descriptors["npm"])  # no child inherits it: the CLI opens the path
    finally:
        for descriptor in descriptors.values():
            os.close(descriptor)


def test_a_build_secret_with_no_utf8_form_is_refused_by_name_never_by_value() -> None:
    with pytest.raises(UsageError) as caught:
        _secret_files({"npm": Secret("token\ud800tail")})
    assert "image.build.secrets.npm" in caught.value.message and "token" not in caught.value.message

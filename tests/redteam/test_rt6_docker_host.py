"""Red team round 6 on a DOCKER_HOST docker-py cannot read (648a3cb, `engine.client._from_env`).

Each test states what should hold; each was xfail(strict) until its finding was fixed (both are)."""

from __future__ import annotations

from pathlib import Path

import pytest

from baker.cli import main

PASSWORD = "rt6-docker-host-pw-7c1e9a"


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "baker.yaml"
    path.write_text(
        "version: 1\nimage:\n  from: busybox:latest\n  tag: rt6/app:1\nenv:\n  LOG_LEVEL: info\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "docker_host",
    [
        f"ssh://deploy:{PASSWORD}@127.0.0.1",  # the docker CLI: "plain-text password is not supported"
        f"ssh://deploy:{PASSWORD}@127.0.0.1/path",
        f"foo://deploy:{PASSWORD}@127.0.0.1",
        f"deploy:{PASSWORD}@127.0.0.1:2375",  # no scheme: docker-py reads it as tcp
        f"TCP://deploy:{PASSWORD}@127.0.0.1:2375",  # `stream.clean` drops lower-case schemes only
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_rt6_1_a_password_in_docker_host_is_never_printed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    docker_host: str,
    as_json: bool,
) -> None:
    """A DOCKER_HOST docker-py refuses is named without its userinfo: docker-py's DockerException
    quotes the whole address, and `stream.clean` drops only lower-case http/tcp/unix/npipe URLs, so
    an ssh://, unknown-scheme, scheme-less or upper-case address with a password reaches stderr and
    the --json document whole (the docker CLI refuses an ssh:// password without printing it)."""
    manifest = _manifest(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    code = main(["build", "--no-ci", "-f", str(manifest), *(["--json"] if as_json else [])])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Docker engine" in out + err  # refused for its engine address, not for anything else
    assert PASSWORD not in out + err


@pytest.mark.parametrize("docker_host", ["tcp://a..b:2375", "tcp://%zz:2375", "tcp://[v1.x]:2375"])
def test_rt6_6_a_docker_host_urllib3_cannot_read_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], docker_host: str
) -> None:
    """docker-py reads these (urllib's urlparse), then urllib3/requests refuse the URL at the first
    request (`LocationParseError`, `InvalidURL`): baker says "lost the connection to the Docker
    engine mid-way (LocationParseError)" with "check that the engine is still running", or a bare
    "InvalidURL" with no hint, instead of naming DOCKER_HOST as 648a3cb does for urllib's refusals.
    No connection is tried (the URL is refused before any lookup)."""
    manifest = _manifest(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    code = main(["build", "--no-ci", "-f", str(manifest)])
    err = capsys.readouterr().err
    assert code == 1
    assert "DOCKER_HOST" in err, err
    assert "mid-way" not in err, err

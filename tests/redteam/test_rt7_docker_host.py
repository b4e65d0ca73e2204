"""Red team round 7 on DOCKER_HOST never quoted (5053f99, `engine.client._without_host`).

Each was an xfail(strict) reproduction until its finding was fixed (both are)."""

from __future__ import annotations

from pathlib import Path

import pytest

from baker.cli import main

CANARY = "rt7-docker-host-canary-91d4"


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "baker.yaml"
    path.write_text(
        "version: 1\nimage:\n  from: busybox:latest\n  tag: rt7/app:1\nenv:\n  LOG_LEVEL: info\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "docker_host",
    [
        f"tcp://127.0.0.1:{CANARY}",  # urllib: "Port could not be cast to integer value as '<port>'"
        f"tcp://[{CANARY}]:2375",  # ipaddress: "'<host>' does not appear to be an IPv4 or IPv6 address"
        f"tcp://1.2.3.4:2375\n::error::{CANARY}",  # urlsplit drops the line break: the port quoted
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_rt7_3_no_piece_of_docker_host_is_quoted(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    docker_host: str,
    as_json: bool,
) -> None:
    """rt7-3 (low): 5053f99 says DOCKER_HOST is never quoted, and `_without_host` replaces the whole
    address and its user info by the variable's name; urllib's and ipaddress's refusals quote a
    piece of it instead (the port field, the bracketed host), which neither replacement matches, so
    that text reaches stderr and the --json document ("...not an engine address (Port could not be
    cast to integer value as '<text>')").  Escapes are repr'd and line breaks dropped, so only text:
    a token pasted into the wrong variable, or a mistyped address, is printed on a CI log."""
    manifest = _manifest(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    code = main(["build", "--no-ci", "-f", str(manifest), *(["--json"] if as_json else [])])
    out, err = capsys.readouterr()
    assert code == 1
    assert "DOCKER_HOST" in out + err  # refused for its address
    assert CANARY not in out + err


@pytest.mark.parametrize(
    ("docker_host", "intact"),
    [
        ("a", "Invalid bind address format"),
        ("e", "Invalid bind address format"),
        (" ", "Invalid bind address format"),
        # the user info alone is replaced too: "Install paramiko package to enable ssh:// sDOCKER_HOSTpport"
        ("ssh://u@127.0.0.1", "ssh:// support"),
    ],
)
def test_rt7_4_a_short_docker_host_leaves_the_refusal_readable(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    docker_host: str,
    intact: str,
) -> None:
    """rt7-4 (low, cosmetic): `_without_host` is `str.replace(DOCKER_HOST, "DOCKER_HOST")` over the
    whole message, and so is its user info: a one-letter (or blank) DOCKER_HOST, or user name,
    rewrites every such letter of the refusal: "InvDOCKER_HOSTlid bind DOCKER_HOSTddress
    formDOCKER_HOSTt: port is required: DOCKER_HOST".  Only where the message quotes the address
    should it be replaced."""
    manifest = _manifest(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    code = main(["build", "--no-ci", "-f", str(manifest)])
    err = capsys.readouterr().err
    assert code == 1
    assert intact in err, err

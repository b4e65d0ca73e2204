"""Red-team reproductions (round 3 follow-up, issue 16: the app build through the Docker CLI).

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import http.server
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from tests.integration.test_build_app import CLIENT_SECRET, NPM_TOKEN, _context, _manifest, debian_cli, vault  # noqa: F401
from tests.support.fixtures_docker import ImageNames

pytestmark = [pytest.mark.docker, pytest.mark.emulator]


class _Challenge(http.server.BaseHTTPRequestHandler):
    """A registry that asks for credentials: BuildKit then asks the CLI's auth provider."""

    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="rt16"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def challenging_registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Challenge)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _helper_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emu: Emulator, registry: str, tag: str
) -> str:
    """Run a build whose base is in a registry that asks for credentials; the user's docker config
    names a credential helper for it (as `az acr login`, ECR's and GCR's helpers set up): a separate
    program, not the docker CLI.  What the helper's environment held."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    dump = tmp_path / "helper-environ"
    helper = bindir / "docker-credential-rt16spy"
    helper.write_text(
        f"#!/bin/sh\nenv >> {dump}\nls -l /proc/self/fd >> {dump}.fds\n"
        "echo 'credentials not found' >&2\nexit 1\n"
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credHelpers": {registry: "rt16spy"}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    _context(tmp_path, f"FROM {registry}/private/base:1\nRUN --mount=type=secret,id=npm_token true\n")
    manifest = _manifest(
        tmp_path / "baker.yaml",
        emu,
        {"context": "app", "network": "none", "secrets": {"npm_token": {"secret": "npm-token"}}},
        tags=(tag,),
        env={"LOG_LEVEL": "info"},
    )
    main(["build", "-f", str(manifest)])  # the build fails (no such base): what matters is who saw what
    assert dump.is_file()  # the helper ran: the CLI asked it for the registry's credentials
    return dump.read_text()


def test_rt16_1_a_build_secret_does_not_reach_a_credential_helpers_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vault: Emulator,  # noqa: F811
    debian_cli: Path,  # noqa: F811
    challenging_registry: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen = _helper_environment(tmp_path, monkeypatch, vault, challenging_registry, image_names())
    capsys.readouterr()
    assert NPM_TOKEN not in seen
    # nor as a descriptor it inherited (fx16: a `pass_fds` memfd reached the helper as its fd 4)
    assert "memfd:" not in (tmp_path / "helper-environ.fds").read_text()


def test_rt16_1b_bakers_client_secret_does_not_reach_a_credential_helper_the_cli_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vault: Emulator,  # noqa: F811
    debian_cli: Path,  # noqa: F811
    challenging_registry: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen = _helper_environment(tmp_path, monkeypatch, vault, challenging_registry, image_names())
    capsys.readouterr()
    assert CLIENT_SECRET not in seen


def _symlinked_dockerfile(tmp_path: Path, target: str) -> Path:
    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").symlink_to(target)
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        json.dumps(
            {
                "version": 1,
                "image": {"build": {"context": "app", "network": "none"}, "tag": "rt16/symlink:1"},
                "env": {"A": "b"},
            }
        )
    )
    return manifest


def _limited() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024, 1536 * 1024 * 1024))


def test_rt16_4_a_dockerfile_symlinked_to_dev_zero_fails_bounded_as_docker_build_does(
    tmp_path: Path,
    debian_cli: Path,  # noqa: F811
) -> None:
    import subprocess
    import sys

    manifest = _symlinked_dockerfile(tmp_path, "/dev/zero")
    # `DOCKER_BUILDKIT=1 docker build app` answers at once: "failed to read dockerfile: open
    # .../dev/zero: no such file or directory" (BuildKit sends the link, never what it points at).
    answer = subprocess.run(
        [sys.executable, "-m", "baker", "build", "-f", str(manifest)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limited,
        check=False,
    )
    assert answer.returncode in (1, 2)
    assert "MemoryError" not in answer.stderr and "internal error" not in answer.stderr, answer.stderr


def test_rt16_4_a_dockerfile_symlinked_out_of_the_context_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside-the-context"
    canary = "rt16-outside-canary-5c1d"
    outside.write_text(f"# syntax={canary}\nFROM scratch\n")
    manifest = _symlinked_dockerfile(tmp_path, str(outside))
    monkeypatch.setenv("BAKER_DOCKER", "/usr/local/bin/docker")  # no BuildKit: the refusal quotes needs
    main(["build", "-f", str(manifest)])
    captured = capsys.readouterr()
    assert canary not in captured.out + captured.err

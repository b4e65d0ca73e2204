"""`make demo` is the README's first command: run examples/demo.py for real, both ways it can go.

It starts the emulator on the fixed demo port 8443 and drives the real `baker` command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo.py"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if not _port_free(8443):
        unavailable("port 8443 (the demo's) is in use")
    return subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.docker
def test_demo_bakes_checks_and_sees_a_rotation_with_a_docker_engine(docker_client: object) -> None:
    result = _run(dict(os.environ))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "tagged baker-demo/app:baked" in out
    assert "up to date: no re-bake needed" in out
    assert "re-bake due: OPENAI_API_KEY" in out
    for value in ("sk-demo-4f9a1c2e7b", "hunter2-demo-pw", "legacy-v1-value", "demo-client-secret-Q7v2"):
        assert value not in out


def test_demo_renders_and_says_so_without_a_docker_engine(tmp_path: Path) -> None:
    result = _run({**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "no Docker engine reachable: rendering instead of building" in result.stdout
    rendered = ROOT / ".demo" / "rendered"
    assert (rendered / "Dockerfile").exists()
    assert (rendered / "docker-bake.json").stat().st_mode & 0o077 == 0

"""A real registry on loopback for one test module: Debian's `docker-registry` (distribution 2.8),
anonymous, plain http on 127.0.0.1 (the Docker engine treats loopback registries as insecure, so
it pushes there without TLS).  Import the `local_registry` fixture into a test module.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import unavailable

REGISTRY_BINARY = "docker-registry"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(root: Path, port: int) -> str:
    return (
        "version: 0.1\n"
        "log:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`127.0.0.1:PORT` of a running registry; stopped (by its own pid) at teardown."""
    binary = shutil.which(REGISTRY_BINARY)
    if binary is None:
        unavailable("docker-registry (Debian's docker-registry package) is not installed")
    base = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = base / "config.yml"
    config.write_text(_config(base / "data", port), encoding="utf-8")
    log = (base / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                unavailable(f"docker-registry did not start: {(base / 'registry.log').read_text()[-500:]}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

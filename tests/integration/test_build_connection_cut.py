"""The engine's connection cut mid-load (the engine restarted, a proxy dropped it): a clear
EngineError, exit 1, and the bake's clean-up still runs, so no image holding a value is left.

Real parts: the real engine behind a small unix-socket relay that forwards every request and cuts
the load request's answer once the engine has committed the baked image (it says so), after the
answer's headers: the body never ends."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from tests.conftest import unavailable
from tests.support.fixtures_docker import ImageNames

pytestmark = pytest.mark.docker


class CuttingRelay:
    """Relays a unix socket to the engine's; the answer to a load is cut once the image is loaded."""

    def __init__(self, path: Path, engine: str) -> None:
        self.path = path
        self.engine = engine
        self.cuts = 0
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.engine)
            building = threading.Event()
            threading.Thread(target=self._requests, args=(client, upstream, building), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client, building), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, building: threading.Event) -> None:
        try:
            while data := client.recv(65536):
                if b"POST /v" in data and b"/images/load" in data:
                    building.set()
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream)

    def _answers(self, upstream: socket.socket, client: socket.socket, building: threading.Event) -> None:
        seen = b""
        try:
            while data := upstream.recv(65536):
                if building.is_set():
                    forwarded = len(seen)
                    seen += data
                    if b"Loaded image" in seen:  # the image (the values) is committed
                        head = seen.find(b"\r\n\r\n") + 4
                        if head > forwarded:
                            client.sendall(seen[forwarded:head])  # the answer's headers, no more
                        self.cuts += 1
                        break  # mid-answer: the chunked body never ends
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def close(self) -> None:
        _close(self.server)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any) -> Iterator[CuttingRelay]:
    path = Path(f"/tmp/baker-cut-{uuid.uuid4().hex[:8]}.sock")  # a unix socket path stays short
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        unavailable("a unix-socket engine (the relay stands in front of one)")
    cutting = CuttingRelay(path, host.removeprefix("unix://"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    yield cutting
    cutting.close()
    path.unlink(missing_ok=True)


def test_a_connection_cut_mid_load_exits_1_naming_it_and_leaves_no_image_holding_a_value(
    relay: CuttingRelay,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    value = f"cut-canary-{uuid.uuid4().hex}"
    tag = image_names()
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        json.dumps({"version": 1, "image": {"from": busybox_base, "tag": tag}, "env": {"V": value}})
    )

    code = main(["build", "-f", str(manifest), "--json"])

    document = json.loads(capsys.readouterr().out)
    assert relay.cuts == 1
    assert code == 1
    assert "lost the connection to the Docker engine mid-way" in document["message"]
    assert "Traceback" not in json.dumps(document)
    assert not image_names.exists(tag)
    assert image_names.holding(value) == []

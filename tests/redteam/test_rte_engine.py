"""Red team on the faster engine bake (rte, after issue 16's speed work): the one-`/_ping` connect,
the load opened during resolution and made anew when its connection breaks.  Small hostile engine
stand-ins on loopback (the real engine cannot misbehave this way), and a relay in front of the real
engine that holds a load's body for a while (an engine slow to commit the load).

Each test states what should hold; it is xfail(strict) until its finding is fixed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker
import pytest

from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from baker.image import engine, oci
from tests.support.manifests import azure_credential, write_manifest

ROOT = Path(__file__).resolve().parents[2]
LEASED = "baker-bake-in-progress:"


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Collector(BaseHTTPRequestHandler):
    """Any request: recorded with its body (chunked or not), answered 200 `{}`."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes]]

    def log_message(self, *args: Any) -> None:
        return None

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _any(self) -> None:
        self.seen.append((self.command, self.path, self._body()))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _any


def _serve(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[_Server]:
    server = _Server((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    """A second loopback host (127.0.0.2): where a redirect should never take baker."""
    seen: list[tuple[str, str, bytes]] = []
    handler = type("Collector", (_Collector,), {"seen": seen})
    for server in _serve(handler, "127.0.0.2"):
        yield f"http://127.0.0.2:{server.server_address[1]}", seen


PING_BODY = 256 * 1024 * 1024  # what the hostile engine offers as its `/_ping` answer


class _HugePing(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sent = [0]

    def log_message(self, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(PING_BODY))
        self.end_headers()
        chunk = b"O" * (1 << 20)
        try:
            for _ in range(PING_BODY // len(chunk)):
                self.wfile.write(chunk)
                self.sent[0] += len(chunk)
        except OSError:
            return


def test_rte_1_connect_reads_a_bounded_part_of_the_engine_s_ping_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rte-1 (low): `client._api_version` asks `GET /_ping` through requests without `stream=True`,
    so the whole body is read into memory before the header is looked at.  An engine endpoint (a
    DOCKER_HOST behind a proxy, a tunnel) answering with an endless body took `baker build` to 3 GB
    of RSS in 12 s (about 250 MB/s) before anything else happened.  The answer of `/_ping` is `OK`:
    its header is all baker needs.  (docker-py's own `/version` and `ping()`, used before e16p,
    read whole too.)"""
    sent = [0]
    handler = type("HugePing", (_HugePing,), {"sent": sent})
    for server in _serve(handler):
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_address[1]}")
        monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
        engine.connect()
    assert sent[0] < 16 * 1024 * 1024, f"baker read {sent[0] >> 20} MiB of the engine's /_ping answer"


class _DripPing(BaseHTTPRequestHandler):
    """`/_ping` answered 200 with a body of a million bytes, one every 2 s."""

    protocol_version = "HTTP/1.1"
    stop = threading.Event()

    def log_message(self, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        try:
            while not self.stop.wait(2):
                self.wfile.write(b"O")
                self.wfile.flush()
        except OSError:
            return
        self.connection.close()  # the test is over: baker's read ends


def test_rte_1_connect_ends_within_its_bound_however_slowly_the_engine_drips_its_ping_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rte-1 (low, the time variant): `CONNECT_TIMEOUT` (10 s) bounds each socket read, not the
    answer: a `/_ping` body dripped a byte every 2 s held `baker build` past 45 s (timeout(1) ended
    it), and would for 23 days.  connect() promises an engine that does not answer does not hold
    baker beyond ten seconds."""
    outcome: list[str] = []

    def connect() -> None:
        try:
            engine.connect()
            outcome.append("connected")
        except Exception as exc:
            outcome.append(type(exc).__name__)

    handler = type("DripPing", (_DripPing,), {"stop": threading.Event()})
    for server in _serve(handler):
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_address[1]}")
        monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
        thread = threading.Thread(target=connect, daemon=True)
        thread.start()
        thread.join(25)
        held = thread.is_alive()
        handler.stop.set()
        thread.join(15)
    assert not held, "connect() still waiting after 25 s"


def _redirecting(location: str, paths: tuple[str, ...]) -> type[BaseHTTPRequestHandler]:
    """An engine stand-in that answers /_ping (Api-Version 1.41) and redirects `paths` to `location`
    with 307 (method and body kept, as RFC 9110 says)."""

    class Redirecting(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def _any(self) -> None:
            path = self.path.split("?")[0]
            if any(path.endswith(p) for p in paths):
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(307)
                self.send_header("Location", location + path)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                return
            self.send_response(200)
            self.send_header("Api-Version", "1.41")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = do_POST = _any

    return Redirecting


def test_rte_2_connect_never_follows_the_engine_s_redirect_to_another_host(
    monkeypatch: pytest.MonkeyPatch, collector: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    """rte-2 (low): the connect's `GET /_ping` follows a 302 from the engine endpoint to any host
    (requests' default): the request leaves for a host DOCKER_HOST does not name."""
    elsewhere, seen = collector
    for server in _serve(_redirecting(elsewhere, ("/_ping",))):
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_address[1]}")
        monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
        with contextlib.suppress(Exception):  # the outcome does not matter: where the request went does
            engine.connect()
    assert seen == []


def test_rte_2_the_baked_config_never_follows_a_load_redirect_to_another_host(
    collector: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    """rte-2 (low, the values' variant): a load made from bytes (the retry of an opened load whose
    connection broke, a full-layer load's fallback, the Python API's load) follows a 307 from the
    engine endpoint and POSTs the archive, the baked config holding every value, to the other host
    (seen end to end: `baker build` through a relay that cuts the opened load, then answers the
    retry with a 307 to 127.0.0.2: the canary arrived there)."""
    elsewhere, seen = collector
    canary = "CANARY" + uuid.uuid4().hex
    base = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    config = oci.Blob(json.dumps({**base, "config": {"Env": [f"K={canary}"]}}).encode(), "x")
    for server in _serve(_redirecting(elsewhere, ("/images/load",))):
        client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{server.server_address[1]}", version="1.41")
        try:
            with contextlib.suppress(Exception):  # the outcome does not matter: where the archive went does
                engine.load_config(
                    config, base_id="sha256:" + "0" * 64, layer_count=0, full_layers=False, client=client
                )
        finally:
            client.close()
    assert not [path for _, path, body in seen if canary.encode() in body]


class _SlowCommit:
    """A loopback relay in front of the real engine's unix socket, one request per connection: a
    load's body is taken in whole from baker, then handed to the engine `delay` seconds later (an
    engine slow to commit a load); everything else passes."""

    def __init__(self, engine_socket: str, delay: float) -> None:
        self.engine_socket = engine_socket
        self.delay = delay
        self.held = threading.Event()
        self.forwarded = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def _one(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                conn.close()
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"connection:")]
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(self.engine_socket)
        head = b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"
        if b"/images/load" in lines[0]:
            upstream.sendall(head)
            body = rest
            while not body.endswith(b"0\r\n\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            if LEASED.encode() in body:  # the archive itself, not an aborted opened load
                self.held.set()
                time.sleep(self.delay)
            upstream.sendall(body)
            self.forwarded.set()
        else:
            upstream.sendall(head + rest)
            threading.Thread(target=self._pipe, args=(conn, upstream), daemon=True).start()
        self._pipe(upstream, conn)
        conn.close()
        upstream.close()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.docker
@pytest.mark.emulator
def test_rte_3_a_double_stop_during_a_slow_load_leaves_no_image_holding_values_unsaid(
    emulator: Emulator, busybox_base: str, docker_client: Any, tmp_path: Path
) -> None:
    """rte-3 (medium): a second SIGINT escapes the load's wait (`held(escape=2)`, "a hung engine");
    the undo watches `LOAD_SETTLE` (5 s) for the image, sees none, and baker exits 130 saying
    "stopped: the bake was undone, no tag moved".  An engine that commits the load after that (a
    loaded machine; here a relay that hands the body on 10 s late) keeps an image holding every
    value, named `baker-bake-in-progress:<lease>`, that baker never named.  Either no image holds a
    value after the stop, or baker's output names what may remain (as the undo does for an image
    the engine refused to remove)."""
    canary = "CANARY" + uuid.uuid4().hex
    emulator.set_secret("demo", "openai-api-key", canary)
    credential = azure_credential(emulator.vault_url("demo"), TENANT, CLIENT_ID)
    manifest = write_manifest(
        tmp_path, base=busybox_base, credentials={"demo": credential}, env={"K": {"secret": "openai-api-key"}}
    )
    engine_socket = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    relay = _SlowCommit(engine_socket, delay=10.0)
    env = dict(
        os.environ,
        **emulator.client_env(),
        AZURE_CLIENT_SECRET=CLIENT_SECRET,
        DOCKER_HOST=f"tcp://127.0.0.1:{relay.port}",
    )
    tag = f"baker-test/rte3:{uuid.uuid4().hex[:8]}"
    args = [sys.executable, "-m", "baker", "build", "-f", str(manifest), "--tag", tag, "--no-ci"]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    leftovers: list[str] = []
    try:
        assert relay.held.wait(60), "the load never reached the relay"
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert relay.forwarded.wait(30)
        time.sleep(3)  # the engine commits the load it was handed
        for image in docker_client.api.images(all=True, quiet=True):
            data = docker_client.api.inspect_image(image)
            if any(canary in item for item in (data.get("Config") or {}).get("Env") or []):
                leftovers.append(image)
    finally:
        if process.poll() is None:
            process.kill()
        relay.close()
        for image in docker_client.api.images(all=True, quiet=True):  # whatever this test left
            env = (docker_client.api.inspect_image(image).get("Config") or {}).get("Env") or []
            if any(canary in item for item in env):
                docker_client.api.remove_image(image, force=True)
    text = out.decode() + err.decode()
    assert process.returncode == 130
    assert canary not in text
    assert not [image for image in leftovers if image not in text], text


def _loads_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "baker-engine-load" and t.is_alive()]


@pytest.mark.docker
@pytest.mark.emulator
def test_rte_4_a_bake_refused_after_resolution_closes_the_load_opened_for_it(
    emulator: Emulator,
    azure_env: dict[str, str],
    busybox_base: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rte-4 (medium): `pipeline.build` opens the load while the values resolve, but `bake()` aborts
    it only inside its `try:`; a refusal raised before that (an invalid tag, `_check_push_access`,
    `--revoke-superseded`'s `read_before` on an unreachable registry) leaves it open for the rest of
    the process: a thread blocked forever, an engine connection, and on the engine a `docker-untar`
    helper (~64 MB RSS) with its temporary directory.  A CLI fleet (`baker build -f a -f b ...
    --push --revoke-superseded`, the registry down) held one per manifest (6 of 6 seen); the Python
    API (`baker.build` in a long-running service) one per failed call, without end."""
    import gc

    import baker
    from baker.errors import BakerError

    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    credential = azure_credential(emulator.vault_url("demo"), TENANT, CLIENT_ID)
    path = write_manifest(
        tmp_path, base=busybox_base, credentials={"demo": credential}, env={"K": {"secret": "openai-api-key"}}
    )
    before = set(_loads_alive())
    try:
        with pytest.raises(BakerError):
            baker.build(baker.load(path), tags=["Not A Valid Tag!"])
        deadline = time.monotonic() + 10
        while set(_loads_alive()) - before and time.monotonic() < deadline:
            time.sleep(0.1)
        left = set(_loads_alive()) - before
    finally:
        for item in gc.get_objects():  # leave no load open for the rest of the session
            if isinstance(item, engine.OpenedLoad):
                item.abort()
    assert not left, f"{len(left)} opened load(s) still waiting for an archive"

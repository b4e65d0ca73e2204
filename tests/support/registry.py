"""Registries on loopback for one test module, plain http on 127.0.0.1 (the Docker engine treats
loopback registries as insecure, so it pushes there without TLS).  Import the fixture into a test
module:

- `local_registry`: a real registry, Debian's `docker-registry` (distribution 2.8), anonymous;
- `readonly_registry`: the same, in read-only maintenance mode (it reads, and refuses uploads);
- `token_registry`: a small registry that demands Bearer tokens from its token service, as Docker
  Hub, ACR and GHCR do, handing them out for Basic user:password (`GET`) or for a known refresh
  token (the OAuth2 `POST` an identity token needs), and serving one index of two images.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from tests.conftest import unavailable

REGISTRY_BINARY = "docker-registry"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(root: Path, port: int, *, readonly: bool = False, deletes: bool = True) -> str:
    maintenance = "  maintenance:\n    readonly:\n      enabled: true\n" if readonly else ""
    return (
        "version: 0.1\n"
        "log:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}\n"
        f"  delete:\n    enabled: {str(deletes).lower()}\n"
        f"{maintenance}"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )


def _run_registry(
    tmp_path_factory: pytest.TempPathFactory, *, readonly: bool = False, deletes: bool = True
) -> Iterator[str]:
    binary = shutil.which(REGISTRY_BINARY)
    if binary is None:
        unavailable("docker-registry (Debian's docker-registry package) is not installed")
    base = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = base / "config.yml"
    config.write_text(_config(base / "data", port, readonly=readonly, deletes=deletes), encoding="utf-8")
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


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`127.0.0.1:PORT` of a running registry; stopped (by its own pid) at teardown."""
    yield from _run_registry(tmp_path_factory)


@pytest.fixture(scope="module")
def readonly_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same registry in read-only maintenance mode: `/v2/` and reads answer, writes are refused."""
    yield from _run_registry(tmp_path_factory, readonly=True)


@pytest.fixture(scope="module")
def nodelete_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same registry with deletes off (distribution's default): a manifest DELETE is refused."""
    yield from _run_registry(tmp_path_factory, deletes=False)


# --- a registry that demands Bearer tokens ------------------------------------------------------

LABELS = {"dev.baker.provenance": '{"v":1,"credentials":{},"env":{"A":{"literal":true}}}'}


class TokenRegistry(BaseHTTPRequestHandler):
    user, password, token = "ci-user", "registry-pw-C4n4ry", "token-C4n4ry-123"
    refresh_token = "identity-token-C4n4ry-456"  # what `az acr login` would store
    blobs: dict[str, bytes] = {}
    manifests: dict[str, tuple[str, bytes]] = {}
    grants: list[str] = []  # every token request, in order: "basic", "refresh_token", "refused"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(
        self, status: int, body: bytes = b"", content_type: str = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        if self.path.startswith("/token"):
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            if (
                self.headers.get("Authorization") != f"Basic {expected}"
                or "scope=repository" not in self.path
            ):
                self.grants.append("refused")
                self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                return
            self.grants.append("basic")
            self._send(200, json.dumps({"token": self.token}).encode())
            return
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:team/app:pull"'
            self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', WWW_Authenticate=challenge)
            return
        _, _, repo_path = self.path.partition("/v2/team/app/")
        kind, _, reference = repo_path.partition("/")
        if kind == "manifests" and reference in self.manifests:
            media_type, body = self.manifests[reference]
            self._send(200, body, media_type)
        elif kind == "blobs" and reference in self.blobs:
            self._send(200, self.blobs[reference])
        else:
            self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    def do_POST(self) -> None:
        """The OAuth2 token request: a form with `grant_type=refresh_token` and the refresh token."""
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if (
            self.path != "/token"
            or form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != self.refresh_token
            or form.get("service") != "fake"
            or not form.get("scope", "").startswith("repository:team/app:")
            or not form.get("client_id")
        ):
            self.grants.append("refused")
            self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
            return
        self.grants.append("refresh_token")
        self._send(200, json.dumps({"access_token": self.token, "expires_in": 300}).encode())


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.fixture(scope="module")
def token_registry() -> Iterator[str]:
    def image(arch: str) -> tuple[str, bytes]:
        config = json.dumps(
            {"architecture": arch, "config": {"Labels": {**LABELS, "arch": arch}, "Env": ["A=x"]}}
        )
        TokenRegistry.blobs[_digest(config.encode())] = config.encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": _digest(config.encode()),
                },
                "layers": [],
            }
        ).encode()
        TokenRegistry.manifests[_digest(manifest)] = ("application/vnd.oci.image.manifest.v1+json", manifest)
        return _digest(manifest), manifest

    entries = []
    for arch in ("arm64", "amd64"):
        digest, body = image(arch)
        entries.append(
            {"digest": digest, "size": len(body), "platform": {"os": "linux", "architecture": arch}}
        )
    entries.append({"digest": entries[0]["digest"], "platform": {"os": "unknown", "architecture": "unknown"}})
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    )
    TokenRegistry.manifests["baked"] = ("application/vnd.oci.image.index.v1+json", index.encode())
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenRegistry)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""Registries and base images for `build --in-registry` tests, made over the registry API itself.

- `registries`: starts Debian's `docker-registry` on 127.0.0.1, with an htpasswd login, optionally
  read-only, optionally over another instance's storage (the same repositories, refusing writes);
  the test's own docker config (`DOCKER_CONFIG`) holds each login, as `docker login` writes it.
- `Api`: a plain client of the distribution API (requests, Basic auth) the tests use to build bases
  and to read back what baker wrote: independent of baker's own client.
- `push_base`: a base made of small random layers (plus Debian's static busybox, so the image runs),
  as an OCI index, a Docker manifest list (each with an attestation entry, as BuildKit makes them)
  or a single manifest; every platform's config sets Env (with PATH and names a bake replaces),
  Cmd, Entrypoint, WorkingDir, User, labels and a field baker does not know.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import unavailable
from tests.support.fixtures_docker import rootfs

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
USER = ("baker", "registry-Pw-1")

BASE_ENV = ["PATH=/base/bin:/bin", "PEM=base-pem-value", "BASE_ONLY=kept as the base set it"]
BASE_CONFIG: dict[str, Any] = {
    "Env": BASE_ENV,
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ["env -0"],
    "WorkingDir": "/srv",
    "User": "1000:1000",
    "Labels": {"org.example.base": "yes"},
    "StopSignal": "SIGQUIT",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Api:
    host: str
    auth: tuple[str, str] | None = USER
    session: requests.Session = field(default_factory=requests.Session)

    def _url(self, repo: str, tail: str) -> str:
        return f"http://{self.host}/v2/{repo}/{tail}"

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = _digest(data)
        started = self.session.post(self._url(repo, "blobs/uploads/"), auth=self.auth, timeout=30)
        assert started.status_code == 202, started.text
        location = requests.compat.urljoin(self._url(repo, ""), started.headers["Location"])
        done = self.session.put(
            location,
            params={"digest": digest},
            data=data,
            auth=self.auth,
            headers={"Content-Type": "application/octet-stream"},
            timeout=60,
        )
        assert done.status_code == 201, done.text
        return digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        response = self.session.put(
            self._url(repo, f"manifests/{reference}"),
            data=data,
            auth=self.auth,
            headers={"Content-Type": media_type},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return _digest(data)

    def manifest(self, repo: str, reference: str) -> tuple[bytes, str]:
        response = self.session.get(
            self._url(repo, f"manifests/{reference}"), auth=self.auth, headers={"Accept": ACCEPT}, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.content, response.headers["Content-Type"]

    def tag_digest(self, repo: str, tag: str) -> str | None:
        response = self.session.head(
            self._url(repo, f"manifests/{tag}"), auth=self.auth, headers={"Accept": ACCEPT}, timeout=30
        )
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.status_code
        return response.headers["Docker-Content-Digest"]

    def blob(self, repo: str, digest: str) -> bytes:
        response = self.session.get(self._url(repo, f"blobs/{digest}"), auth=self.auth, timeout=60)
        assert response.status_code == 200, response.status_code
        assert _digest(response.content) == digest
        return response.content

    def has_blob(self, repo: str, digest: str) -> bool:
        response = self.session.head(self._url(repo, f"blobs/{digest}"), auth=self.auth, timeout=30)
        return response.status_code == 200


@dataclass
class Registry:
    host: str
    root: Path
    process: subprocess.Popen[bytes]
    api: Api


StartRegistry = Callable[..., Registry]


def _config(root: Path, host: str, *, readonly: bool, auth: bool, deletes: bool = False) -> str:
    document: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "error"},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "maintenance": {"readonly": {"enabled": readonly}, "uploadpurging": {"enabled": False}},
            "delete": {"enabled": deletes},  # distribution's default: no DELETE (405 UNSUPPORTED)
        },
        "http": {"addr": host, "secret": uuid.uuid4().hex},
    }
    if auth:
        document["auth"] = {"htpasswd": {"realm": "baker-test", "path": str(root / "htpasswd")}}
    return json.dumps(document)  # JSON is YAML


@pytest.fixture
def registries(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartRegistry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        unavailable("docker-registry (Debian's docker-registry package) is not installed")
    config_dir = tmp_path_factory.mktemp("docker-config")
    auths: dict[str, Any] = {}
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    processes: list[subprocess.Popen[bytes]] = []

    def start(
        *,
        readonly: bool = False,
        storage_of: Registry | None = None,
        auth: bool = True,
        deletes: bool = False,
    ) -> Registry:
        root = storage_of.root if storage_of is not None else tmp_path_factory.mktemp("registry")
        if auth and not (root / "htpasswd").exists():
            import bcrypt

            hashed = bcrypt.hashpw(USER[1].encode(), bcrypt.gensalt(rounds=4)).decode()
            (root / "htpasswd").write_text(f"{USER[0]}:{hashed}\n")
        host = f"127.0.0.1:{_free_port()}"
        config = root / f"config-{host.rpartition(':')[2]}.yml"
        config.write_text(_config(root, host, readonly=readonly, auth=auth, deletes=deletes))
        log = (root / f"registry-{host.rpartition(':')[2]}.log").open("wb")
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
        processes.append(process)
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"http://{host}/v2/", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not start on {host}")
                time.sleep(0.05)
        if auth:
            auths[host] = {"auth": base64.b64encode(":".join(USER).encode()).decode()}
            (config_dir / "config.json").write_text(json.dumps({"auths": auths}))
        return Registry(host, root, process, Api(host, USER if auth else None))

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# --- bases ----------------------------------------------------------------------------------------


def _layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """A gzipped tar layer and its diff id (the digest of the tar)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    return gzip.compress(raw, mtime=0), _digest(raw)


_BUSYBOX: tuple[bytes, str] | None = None


def busybox_layer() -> tuple[bytes, str]:
    global _BUSYBOX
    if _BUSYBOX is None:
        raw = rootfs()
        _BUSYBOX = (gzip.compress(raw, mtime=0), _digest(raw))
    return _BUSYBOX


@dataclass(frozen=True)
class Base:
    ref: str  # host/repo:tag
    repo: str
    digest: str  # the top manifest's
    media_type: str
    platforms: dict[str, str]  # os/arch -> manifest digest
    layers: dict[str, list[str]]  # os/arch -> layer digests
    configs: dict[str, dict[str, Any]]  # os/arch -> config document
    api: Api  # where it is


def push_base(
    api: Api,
    repo: str,
    *,
    kind: str = "oci",
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64"),
    index: bool = True,
    attestation: bool = True,
    big_layer: bytes | None = None,
) -> Base:
    oci = kind == "oci"
    manifest_type, config_type, layer_type = (
        (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER) if oci else (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER)
    )
    tag = uuid.uuid4().hex[:10]
    entries: list[dict[str, Any]] = []
    result_platforms: dict[str, str] = {}
    layers_by: dict[str, list[str]] = {}
    configs: dict[str, dict[str, Any]] = {}
    busybox, busybox_diff = busybox_layer()
    busybox_digest = api.put_blob(repo, busybox)
    for name in platforms:
        os_name, arch = name.split("/")
        own, own_diff = _layer({f"data/{arch}.bin": os.urandom(4096)})
        layers = [(busybox_digest, len(busybox), busybox_diff), (api.put_blob(repo, own), len(own), own_diff)]
        if big_layer is not None:
            layers.append(
                (api.put_blob(repo, big_layer), len(big_layer), _digest(gzip.decompress(big_layer)))
            )
        config = {
            "architecture": arch,
            "os": os_name,
            "created": "2024-01-02T03:04:05Z",
            "config": dict(BASE_CONFIG),
            "rootfs": {"type": "layers", "diff_ids": [diff for _, _, diff in layers]},
            "history": [{"created_by": "ADD busybox"}, {"created_by": f"ADD data/{arch}.bin"}]
            + ([{"created_by": "ADD big"}] if big_layer is not None else []),
            "x-unknown-field": {"kept": [1, "two", None]},
        }
        config_bytes = json.dumps(config, indent=2).encode()
        config_digest = api.put_blob(repo, config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": layer_type, "digest": d, "size": s} for d, s, _ in layers],
        }
        manifest_bytes = json.dumps(manifest, indent=3).encode()
        digest = api.put_manifest(repo, _digest(manifest_bytes), manifest_bytes, manifest_type)
        entries.append(
            {
                "mediaType": manifest_type,
                "digest": digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": arch, "os": os_name},
            }
        )
        result_platforms[name] = digest
        layers_by[name] = [d for d, _, _ in layers]
        configs[name] = config
    if not index:
        (only,) = entries
        api.put_manifest(repo, tag, api.manifest(repo, only["digest"])[0], manifest_type)
        return Base(
            f"{api.host}/{repo}:{tag}",
            repo,
            only["digest"],
            manifest_type,
            result_platforms,
            layers_by,
            configs,
            api,
        )
    if attestation:
        statement_bytes = b'{"_type":"https://in-toto.io/Statement/v0.1"}'
        statement = api.put_blob(repo, statement_bytes)
        empty = b"{}"
        empty_digest = api.put_blob(repo, empty)
        att = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": empty_digest, "size": 2},
            "layers": [
                {
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": statement,
                    "size": len(statement_bytes),
                }
            ],
        }
        att_bytes = json.dumps(att).encode()
        att_digest = api.put_manifest(repo, _digest(att_bytes), att_bytes, OCI_MANIFEST)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": att_digest,
                "size": len(att_bytes),
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": entries[0]["digest"],
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            }
        )
    index_type = OCI_INDEX if oci else DOCKER_LIST
    document = {"schemaVersion": 2, "mediaType": index_type, "manifests": entries}
    index_bytes = json.dumps(document, indent=1).encode()
    digest = api.put_manifest(repo, tag, index_bytes, index_type)
    return Base(
        f"{api.host}/{repo}:{tag}", repo, digest, index_type, result_platforms, layers_by, configs, api
    )

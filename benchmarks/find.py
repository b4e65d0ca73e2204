"""`baker find` on a large repository: 3,000 tags over a few distinct 6-platform indexes, every
request slowed by a loopback proxy.

    .venv/bin/python benchmarks/find.py [--tags 3000] [--indexes 3] [--platforms 6] [--latency-ms 20]

Debian's `docker-registry` on 127.0.0.1 holds `--indexes` distinct indexes of `--platforms` images
each (their configs carry baker's provenance label, each index a different secret version), pushed
over the registry API; `--tags` tags name them in turn.  A loopback proxy in front adds
`--latency-ms` to every request and counts them.  Then `baker find --secret NAME --json PROXY/REPO`
runs as a user runs it (a whole process, anonymous registry).

Prints the whole scan's wall time, the requests it made (by method), its exit code and what it
found, then the floor: the same number of GETs (what find sends a tag) and of HEADs (what it sent
before rt3-2) with plain `requests`, 8 at once, through the same proxy (on a loaded machine the
registry's own time per request dominates).

Goal (issue 20): every tag read, exit 0, each distinct index, manifest and config read once (one
request a tag for its digest); before, the scan read every tag's index, manifests and configs again
(1 + 2 x platforms requests a tag) under one 120 s bound for the whole repository, and 1,973 of
3,000 tags timed out.  The scan itself is
bounded (`--timeout`, 600 s).  Removes every process and file it made.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import hashlib
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from benchmarks.inregistry import start_registry

REPO = "bench/app"
SECRET = "db-password"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
ARCHES = ("amd64", "arm64", "ppc64le", "s390x", "386", "riscv64", "mips64le", "loong64")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """A plain distribution API client for setting the repository up (no latency)."""

    def __init__(self, host: str) -> None:
        self.base = f"http://{host}/v2/{REPO}"
        self.session = requests.Session()

    def blob(self, data: bytes) -> str:
        started = self.session.post(f"{self.base}/blobs/uploads/", timeout=30)
        location = requests.compat.urljoin(self.base + "/", started.headers["Location"])
        done = self.session.put(location, params={"digest": _digest(data)}, data=data, timeout=30)
        assert done.status_code == 201, done.status_code
        return _digest(data)

    def manifest(self, reference: str, data: bytes, media_type: str) -> None:
        response = self.session.put(
            f"{self.base}/manifests/{reference}", data=data, headers={"Content-Type": media_type}, timeout=30
        )
        assert response.status_code == 201, response.status_code


def baked_index(registry: Registry, version: str, platforms: int) -> bytes:
    label = json.dumps(
        {
            "v": 1,
            "credentials": {},
            "env": {"DB_PASSWORD": {"ref": SECRET, "credential": "kv", "version": version}},
        }
    )
    entries = []
    for arch in ARCHES[:platforms]:
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": {"Labels": {"dev.baker.provenance": label}},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        ).encode()
        registry.blob(config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
                "layers": [],
            }
        ).encode()
        registry.manifest(_digest(manifest), manifest, OCI_MANIFEST)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": _digest(manifest),
                "size": len(manifest),
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    registry.manifest(_digest(index), index, OCI_INDEX)
    return index


class SlowProxy:
    """Forwards every request to the registry after `latency` seconds, counting them by method."""

    def __init__(self, upstream: str, latency: float) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with lock:
                    proxy.counts[self.command] += 1
                time.sleep(latency)
                conn = http.client.HTTPConnection(upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _floor(host: str, tags: int, method: str) -> float:
    """The same requests (`method`, one a tag) with plain requests, 8 at once: what this machine
    and registry allow."""
    local = threading.local()

    def head(n: int) -> int:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        url = f"http://{host}/v2/{REPO}/manifests/t{n:05d}"
        response = session.request(method, url, headers={"Accept": OCI_INDEX}, timeout=30)
        _ = response.content
        return response.status_code

    started = time.monotonic()
    with cf.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(head, range(tags))) == {200}
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tags", type=int, default=3000)
    parser.add_argument("--indexes", type=int, default=3)
    parser.add_argument("--platforms", type=int, default=6, choices=range(1, len(ARCHES) + 1))
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the scan may take")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="baker-bench-find-"))
    host, process = start_registry(work)
    proxy: SlowProxy | None = None
    try:
        registry = Registry(host)
        versions = [f"{n:032x}" for n in range(1, args.indexes + 1)]
        indexes = [baked_index(registry, version, args.platforms) for version in versions]
        started = time.monotonic()
        with cf.ThreadPoolExecutor(8) as pool:
            tagged = [
                pool.submit(Registry(host).manifest, f"t{n:05d}", indexes[n % len(indexes)], OCI_INDEX)
                for n in range(args.tags)
            ]
            for future in tagged:
                future.result()
        print(
            f"set up: {args.tags} tags over {args.indexes} indexes of {args.platforms} platforms "
            f"({time.monotonic() - started:.1f} s, no latency)"
        )

        proxy = SlowProxy(host, args.latency_ms / 1000)
        config = work / "docker-config"
        config.mkdir()
        env = {**os.environ, "DOCKER_CONFIG": str(config)}
        command = [
            sys.executable,
            "-m",
            "baker",
            "find",
            "--json",
            "--secret",
            SECRET,
            f"{proxy.host}/{REPO}",
        ]
        started = time.monotonic()
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=args.timeout, check=False
        )
        elapsed = time.monotonic() - started
        document = json.loads(done.stdout) if done.stdout.strip() else {}
        requests_made = sum(proxy.counts.values())
        before = 1 + args.tags * (
            1 + 2 * args.platforms
        )  # the old scan: every tag's index, manifests, configs
        print(
            f"find: {args.tags} tags at {args.latency_ms:g} ms a request: {elapsed:.1f} s wall, "
            f"exit {done.returncode}"
        )
        print(
            f"  requests: {requests_made} ({', '.join(f'{k} {v}' for k, v in sorted(proxy.counts.items()))});"
            f" the old scan's: about {before}"
        )
        print(
            f"  scanned {document.get('scanned')}, matched {len(document.get('matches') or [])}, "
            f"unreadable {len(document.get('unreadable') or [])}"
        )
        if done.returncode != 0:
            print(done.stderr[-2000:])
        for method in ("GET", "HEAD"):
            floor = _floor(proxy.host, args.tags, method)
            print(f"  the floor: {args.tags} plain {method}s through the proxy, 8 at once: {floor:.1f} s")
    finally:
        if proxy is not None:
            proxy.close()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

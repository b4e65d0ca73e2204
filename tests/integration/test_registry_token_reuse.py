"""One registry token per scope per bake, and a credential helper run once per registry per process.

A token-serving stand-in (a loopback proxy in front of Debian's docker-registry that demands Bearer
tokens from its own realm, as ACR, GHCR and Docker Hub do) logs every token request with its scopes;
the docker config names a credential helper (a real program on PATH) that logs every run.  An
in-registry bake used to fetch the same token six times and run the helper four or five times."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import stat
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from baker.cli import main
from baker.emulator import Emulator
from tests.integration.test_build_inregistry import inregistry_manifest, vault  # noqa: F401 - fixture
from tests.support import oci_bases
from tests.support.oci_bases import USER, StartRegistry, push_base

pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

PROXY_USER, PROXY_PASSWORD = "ci", "token-proxy-pw-C4n4ry"
HELPER = """\
#!{python}
import json, pathlib, sys
server = sys.stdin.read().strip()
pathlib.Path({log!r}).open("a").write(sys.argv[1] + " " + server + "\\n")
print(json.dumps({{"ServerURL": server, "Username": {user!r}, "Secret": {password!r}}}))
"""


@dataclass
class TokenProxy:
    upstream: str
    host: str = ""
    tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)  # token -> its scopes
    requests: list[tuple[str, ...]] = field(default_factory=list)  # each token request's scopes
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(proxy: TokenProxy) -> type[http.server.BaseHTTPRequestHandler]:
    upstream_auth = "Basic " + base64.b64encode(":".join(USER).encode()).decode()
    basic = "Basic " + base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            if url.path == "/token":
                if self.headers.get("Authorization") != basic:
                    self._answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                    return
                scopes = tuple(sorted(parse_qs(url.query).get("scope", [])))
                token = f"t-{uuid.uuid4().hex}"
                with proxy.lock:
                    proxy.requests.append(scopes)
                    proxy.tokens[token] = scopes
                self._answer(200, json.dumps({"token": token, "expires_in": 300}).encode())
                return
            given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if given not in proxy.tokens:
                repository = url.path.removeprefix("/v2/").rsplit("/", 2)[0] if url.path != "/v2/" else ""
                challenge = f'Bearer realm="http://{proxy.host}/token",service="proxy"'
                if repository:
                    challenge += f',scope="repository:{repository}:pull"'
                self._answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', WWW_Authenticate=challenge)
                return
            connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("content-length", "connection", "authorization")
            }
            headers["Authorization"] = upstream_auth
            if body or self.command in ("PUT", "POST", "PATCH"):
                headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body or None, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            connection.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = _any

    return Handler


@pytest.fixture
def token_proxy(registries: StartRegistry) -> Iterator[tuple[TokenProxy, oci_bases.Registry]]:
    registry = registries()
    proxy = TokenProxy(registry.host)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    proxy.host = f"127.0.0.1:{server.server_address[1]}"
    try:
        yield proxy, registry
    finally:
        server.shutdown()
        server.server_close()


def _helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str) -> Path:
    """The docker config names a credential helper for the proxy's host; the helper logs each run."""
    log, bin_dir = tmp_path / "helper.log", tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-counting"
    helper.write_text(
        HELPER.format(python=sys.executable, log=str(log), user=PROXY_USER, password=PROXY_PASSWORD),
        encoding="utf-8",
    )
    helper.chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"credHelpers": {host: "counting"}}), encoding="utf-8")
    return log


def test_an_in_registry_bake_fetches_one_token_per_scope_and_runs_the_helper_once(
    token_proxy: tuple[TokenProxy, oci_bases.Registry],
    vault: Emulator,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, registry = token_proxy
    base = push_base(registry.api, "team/app")
    log = _helper(tmp_path, monkeypatch, proxy.host)
    manifest = inregistry_manifest(
        tmp_path / "baker.yaml", vault, base.ref.replace(registry.host, proxy.host)
    )
    tag = f"{proxy.host}/team/app:baked"

    code = main(["build", "--in-registry", "--if-stale", "-f", str(manifest), "--tag", tag, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["digest"]
    assert PROXY_PASSWORD not in out + err
    per_scope = Counter(proxy.requests)
    assert proxy.requests and max(per_scope.values()) == 1, per_scope  # one token per scope
    runs = log.read_text().splitlines()
    assert runs == [f"get {proxy.host}"], runs  # the helper ran once for the registry

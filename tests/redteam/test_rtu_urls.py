"""Red team on issue 17's URL reading (rtu): `baker.urls` decides with its own grammar, `urls.target`
where a request is about to be made.  The rule of round 3 (issue 20, item 3): what is checked is what
is connected to, and a request token goes only to the origin checked.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
from pathlib import Path

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.errors import BakerError
from baker.manifest import checks
from baker.providers.azure.provider import AzureKeyVaultProvider
from tests.integration.test_keyless_signin import (  # noqa: F401 - fixture
    WORKLOAD,
    keyless_manifest,
    no_client_secret,
)
from tests.support.fixtures_emulator import SERVICE_CONNECTION
from tests.support.listeners import Recorder
from tests.support.manifests import azure_credential, write_manifest

pytestmark = pytest.mark.emulator

CANARY = "CANARY-rtu-system-access-token-0b7d4e21c9"


class Listener:
    """A loopback listener that records what arrives and answers 500 (an endpoint that must never be
    asked anything)."""

    def __init__(self, address: str) -> None:
        self._sock = socket.socket()
        self._sock.bind((address, 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.received = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 500 No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()


def test_rtu_1_the_azure_pipelines_url_checked_is_the_one_the_token_goes_to(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rtu-1 (low, Python API).  `manifest.load(path, environ=...)` reads the Azure Pipelines token
    source from the mapping it is given: `loopback.refusal` (at load and again in
    `keyless_incomplete`) checks the mapping's SYSTEM_OIDCREQUESTURI, and the request token
    (SYSTEM_ACCESSTOKEN) comes from the mapping.  But `AzurePipelinesCredential` reads
    `os.environ["SYSTEM_OIDCREQUESTURI"]` itself when it fetches (`build_oidc_request`): the token
    goes to a URL no baker check ever read.  Here the mapping names the emulator, the process
    environment a listener on 127.0.0.3, which receives SYSTEM_ACCESSTOKEN.  (The GitHub source
    sends to `source.request_url`, the URL it checked: that one holds.)"""
    emu = keyless_emulator
    other = Listener("127.0.0.3")
    environ = {**emu.azure_pipelines_env(), "SYSTEM_ACCESSTOKEN": CANARY}
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", f"http://127.0.0.3:{other.port}/org/_apis/oidctoken")
    manifest_path = keyless_manifest(
        tmp_path,
        emu,
        {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION},
    )
    manifest = checks.load(manifest_path, environ=environ)
    provider = AzureKeyVaultProvider(manifest.credentials["c0"])
    try:
        # the fetch fails either way (the listener answers 500): what was sent is what matters
        with pytest.raises(BakerError):
            provider.get_secret("value")
    finally:
        provider.close()
        other.close()
    assert CANARY.encode() not in bytes(other.received), "SYSTEM_ACCESSTOKEN went to 127.0.0.3"


class FakeEngine:
    """A plain-http stand-in for a Docker engine on 127.0.0.1 that answers the version and the ping
    and records each request line."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.lines: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(65536)
                    self.lines.append(data.split(b"\r\n", 1)[0])
                    body = b'{"ApiVersion":"1.41","Version":"20.10.0"}' if b"/version" in data else b"OK"
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()


def _answer_basic(head: bytes) -> bytes:
    """401 Basic to a request without `Authorization`, 404 to one with it."""
    if b"\r\nauthorization:" in head.lower():
        answer = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
        return answer + b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    answer = b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="r"\r\n'
    return answer + b"Content-Length: 0\r\nConnection: close\r\n\r\n"


def _proxy() -> Recorder:
    """A forward proxy stand-in on 127.0.0.3 (a corporate proxy elsewhere): answers a request without
    `Authorization` 401 Basic, one with it 404, and keeps every request's head."""
    return Recorder("127.0.0.3", _answer_basic)


def _proxied(monkeypatch: pytest.MonkeyPatch, proxy: Recorder) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)


def test_rtu_3_plain_http_to_a_loopback_registry_never_goes_through_a_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rtu-3 (medium).  The loopback rule allows plain http because the bytes never leave the host;
    requests honours HTTP_PROXY for loopback too (no_proxy unset), so a runner behind a proxy sends
    the registry's Basic credentials (and, on a push, the config blob holding every value; an App
    Service managed identity request its IDENTITY_HEADER) in clear to the proxy.  Checked as
    127.0.0.1, connected to the proxy.  Go (the engine, skopeo, the registry) never proxies
    `localhost` or a loopback address (`golang.org/x/net/http/httpproxy`, `useProxy`).
    Here nothing listens on 127.0.0.1:1; only the proxy answers."""
    proxy = _proxy()
    registry = "127.0.0.1:1"
    config = tmp_path / "docker"
    config.mkdir()
    auth = base64.b64encode(f"user:{CANARY}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}), encoding="utf-8")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    _proxied(monkeypatch, proxy)
    try:
        main(["find", "--no-ci", "--secret", "x", f"{registry}/team/app"])
    finally:
        proxy.close()
    capsys.readouterr()
    leaked = any(auth.encode() in head for head in proxy.heads)
    assert proxy.heads == [], f"{len(proxy.heads)} request(s) to the proxy, credentials among them: {leaked}"


def test_rtu_3_a_loopback_managed_identity_endpoint_never_goes_through_a_proxy(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """rtu-3, the managed identity road: App Service's IDENTITY_ENDPOINT is plain http on loopback,
    allowed by the rule; through HTTP_PROXY its IDENTITY_HEADER reaches the proxy in clear."""
    proxy = _proxy()
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", CANARY)
    _proxied(monkeypatch, proxy)
    manifest = keyless_manifest(tmp_path, keyless_emulator, {"auth": "managed-identity"})
    try:
        main(["test-connection", "--no-ci", "-f", str(manifest)])
    finally:
        proxy.close()
    capsys.readouterr()
    leaked = any(CANARY.encode() in head for head in proxy.heads)
    assert proxy.heads == [], (
        f"{len(proxy.heads)} request(s) to the proxy, IDENTITY_HEADER among them: {leaked}"
    )


def test_rtu_4_plan_names_the_vault_host_baker_connects_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rtu-4 (low).  `baker.urls` reads a non-ASCII host by IDNA (as urllib3 does), so
    `https://corp-v\u0430ult.example` (a Cyrillic \u0430) is accepted and connected to as
    `xn--corp-vult-5yh.example`: another registrable name, whose vault serves the values baked.
    `plan` (text and `--json`), the review surface of a manifest change, prints the URL as written,
    which looks like `corp-vault.example`.  Show the host as connected to (or refuse a mixed-script
    label)."""
    import idna

    vault = "https://corp-v\u0430ult.example"
    connected = idna.encode("corp-v\u0430ult").decode()
    manifest = write_manifest(
        tmp_path,
        base="busybox",
        credentials={"c": azure_credential(vault, "t", "c")},
        env={"VALUE": {"secret": "s"}},
    )
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "x")
    assert main(["--json", "plan", "-f", str(manifest)]) == 0
    shown = json.loads(capsys.readouterr().out)["env"][0]["vault_url"]
    assert connected in shown, f"plan shows {shown!a}; baker connects to https://{connected}.example"


def test_rtu_5_an_authority_from_the_environment_is_read_as_the_manifests_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rtu-5 (low).  A manifest's `authority_host` goes through `baker.urls` (user info, a backslash,
    plain http refused, never quoted); AZURE_AUTHORITY_HOST, its fallback, goes to azure-identity as
    it is: `validate` says nothing, and `test-connection`/`build` print azure-identity's ValueError,
    which quotes the whole URL: here a password in its user info (and a line break in it is kept).
    An https one with a backslash (`https://A\\@B`) reaches MSAL, which names B as the instance
    while requests connects to A."""
    manifest = write_manifest(
        tmp_path,
        base="busybox",
        credentials={"c": azure_credential("https://demo.vault.localhost:1", "t", "c")},
        env={"VALUE": {"secret": "s"}},
    )
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "x")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"http://user:{CANARY}@login.example")
    validated = main(["--no-ci", "validate", "-f", str(manifest)])
    main(["--no-ci", "test-connection", "-f", str(manifest)])
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err
    assert validated != 0, "validate accepts an authority that every online command refuses"


def test_rtu_3_a_loopback_tcp_engine_is_never_spoken_to_through_a_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rtu-3, the engine road: DOCKER_HOST=tcp://127.0.0.1:PORT (a dind service, a TCP-exposed
    engine) with HTTP_PROXY set: docker-py (a requests session that trusts the environment) sends
    every engine request, the bake's build request and context (every value) and a push's
    `X-Registry-Auth` among them, to the proxy in clear.  The docker CLI (Go) never proxies loopback."""
    from baker.image.engine import client

    engine = FakeEngine()
    proxy = _proxy()
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{engine.port}")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    _proxied(monkeypatch, proxy)
    try:
        with contextlib.suppress(BakerError):  # the proxy answers 401: what reached it is what matters
            client.connect()
    finally:
        engine.close()
        proxy.close()
    assert proxy.heads == [], f"{len(proxy.heads)} engine request(s) went to the proxy"

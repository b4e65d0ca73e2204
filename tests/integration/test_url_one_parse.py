"""One URL parse decides what is checked and what is connected to (issue 20, item 3).

`http://OTHER:PORT\\@127.0.0.1:PORT/...` is loopback to `urllib.parse` (the host after the last `@`)
but requests connects to OTHER (the text before the `\\`).  Each test plants that shape where a URL
comes from outside (a registry redirect, an upload `Location`, a token realm, a tag page's `Link`,
the keyless request URLs) with OTHER a listener on a second loopback address, 127.0.0.2: it must
receive nothing at all, and no output may hold a credential or a value."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.errors import ImageError
from baker.image.oci import Blob
from baker.image.registry import push, walk
from baker.image.registry import read as registry
from baker.image.registry.client import RegistryClient
from baker.image.registry.refs import parse_ref
from tests.integration.test_keyless_signin import (  # noqa: F401 - fixture
    WORKLOAD,
    keyless_manifest,
    no_client_secret,
)
from tests.integration.test_registry_hostile import (  # noqa: F401 - fixtures
    PASSWORD,
    Answer,
    _manifest,
    logged_in,
    send,
    serve,
)
from tests.support.fixtures_emulator import GITHUB_SUBJECT, SERVICE_CONNECTION

OTHER = "127.0.0.2"
CANARY = "CANARY-h20b-request-token-0123456789abcdef"
VALUE_CANARY = b"CANARY-h20b-config-value-fedcba9876543210"


class Other:
    """The host hidden before a backslash: records every connection's bytes, answers `answer`."""

    def __init__(
        self, answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    ) -> None:
        self._sock = socket.socket()
        self._sock.bind((OTHER, 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.seen: list[bytes] = []
        self._answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.seen.append(data or b"(a connection)")
                conn.sendall(self._answer)
            except OSError:
                self.seen.append(data or b"(a connection)")
            finally:
                conn.close()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def other() -> Iterator[Other]:
    listener = Other()
    yield listener
    listener.close()


def hidden(other: Other, host: str, path: str) -> str:
    """A URL that names loopback `host` to `urllib.parse` and `OTHER` to requests."""
    return f"http://{OTHER}:{other.port}\\@{host}{path}"


def _basic_registry(
    serve: Callable[[Answer], tuple[str, list[str]]],  # noqa: F811
    then: Callable[[http.server.BaseHTTPRequestHandler, str], None],
) -> tuple[str, list[str]]:
    """A registry that demands Basic, then answers `then(handler, its host)`."""
    where: list[str] = []

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        if not h.headers.get("Authorization", "").startswith("Basic "):
            send(h, 401, WWW_Authenticate='Basic realm="registry"')
        else:
            then(h, where[0])

    host, seen = serve(answer)
    where.append(host)
    return host, seen


def test_a_redirect_with_a_backslash_host_is_refused_and_its_host_gets_nothing(
    serve: Callable[[Answer], tuple[str, list[str]]],  # noqa: F811
    logged_in: None,  # noqa: F811
    other: Other,
) -> None:
    def then(h: http.server.BaseHTTPRequestHandler, host: str) -> None:
        if "/manifests/" in h.path:
            send(h, 200, _manifest(), Content_Type="application/vnd.oci.image.manifest.v1+json")
        else:
            send(h, 307, Location=hidden(other, host, "/blob"))

    host, seen = _basic_registry(serve, then)
    with pytest.raises(ImageError) as info:
        registry.fetch_config(f"{host}/team/app:t")
    assert other.seen == []
    assert any("Basic" in line for line in seen)  # the registry itself was asked
    assert PASSWORD not in info.value.message


def test_an_upload_location_with_a_backslash_host_is_refused_and_its_host_gets_no_blob(
    serve: Callable[[Answer], tuple[str, list[str]]],  # noqa: F811
    logged_in: None,  # noqa: F811
    other: Other,
) -> None:
    def then(h: http.server.BaseHTTPRequestHandler, host: str) -> None:
        send(h, 202, Location=hidden(other, host, "/v2/team/app/blobs/uploads/1"))

    host, _ = _basic_registry(serve, then)
    blob = Blob(
        b'{"config": {"Env": ["DB=' + VALUE_CANARY + b'"]}}', "application/vnd.oci.image.config.v1+json"
    )
    client = RegistryClient(parse_ref(f"{host}/team/app:t"), push=True, deadline=5)
    with client, pytest.raises(ImageError) as info:
        push.upload(client, blob)
    assert other.seen == []
    assert VALUE_CANARY.decode() not in info.value.message


def test_a_token_realm_with_a_backslash_host_is_refused_and_its_host_gets_no_credentials(
    serve: Callable[[Answer], tuple[str, list[str]]],  # noqa: F811
    logged_in: None,  # noqa: F811
    other: Other,
) -> None:
    where: list[str] = []

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        realm = hidden(other, where[0], "/token")
        send(h, 401, WWW_Authenticate=f'Bearer realm="{realm}",service="registry"')

    host, _ = serve(answer)
    where.append(host)
    with pytest.raises(ImageError):
        registry.fetch_config(f"{host}/team/app:t")
    assert other.seen == []


def test_a_tag_page_link_with_a_backslash_host_is_refused_and_its_host_gets_nothing(
    serve: Callable[[Answer], tuple[str, list[str]]],  # noqa: F811
    logged_in: None,  # noqa: F811
    other: Other,
) -> None:
    def then(h: http.server.BaseHTTPRequestHandler, host: str) -> None:
        link = hidden(other, host, "/v2/team/app/tags/list?n=100&last=a")
        send(h, 200, json.dumps({"tags": ["a"]}).encode(), Link=f'<{link}>; rel="next"')

    host, _ = _basic_registry(serve, then)
    with walk.Reader(parse_ref(f"{host}/team/app:t")) as reader, pytest.raises(ImageError):
        walk.list_tags(reader)
    assert other.seen == []


@pytest.mark.emulator
@pytest.mark.parametrize("source", ["github", "azure-pipelines", "managed-identity"])
def test_a_keyless_request_url_with_a_backslash_host_is_refused_and_its_host_gets_no_token(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    other: Other,
    source: str,
) -> None:
    emu = keyless_emulator
    credential: dict[str, Any]
    if source == "github":
        monkeypatch.setenv(
            "ACTIONS_ID_TOKEN_REQUEST_URL", hidden(other, "127.0.0.1:9", "/idtoken?api-version=2.0")
        )
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CANARY)
        credential = WORKLOAD
        assert emu.mint_id_token(GITHUB_SUBJECT, issuer="/github")  # a world that would sign in
    elif source == "azure-pipelines":
        monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", hidden(other, "127.0.0.1:9", "/org/_apis/oidctoken"))
        monkeypatch.setenv("SYSTEM_ACCESSTOKEN", CANARY)
        credential = {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION}
    else:
        monkeypatch.setenv("IDENTITY_ENDPOINT", hidden(other, "localhost:9", "/msi/token"))
        monkeypatch.setenv("IDENTITY_HEADER", CANARY)
        credential = {"auth": "managed-identity"}
    code = main(["test-connection", "-f", str(keyless_manifest(tmp_path, emu, credential))])
    captured = capsys.readouterr()
    assert other.seen == []
    assert code != 0
    assert CANARY not in captured.out + captured.err

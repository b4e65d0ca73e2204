"""baker never sends credentials from ~/.netrc.  requests adds a `.netrc` entry's login as Basic
auth to any request that has no auth of its own (a `default` entry: to every host), so a registry
baker was pointed at (any host a manifest or a `--tag` names) got the user's netrc password, and the
engine and Key Vault sessions carried it too.  The docker CLI, skopeo and Go's tools never read it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import requests

from baker.cli import main
from baker.image.engine import connect
from baker.image.registry.client import RegistryClient
from baker.image.registry.refs import ImageRef
from baker.providers.azure.provider import _pooled_session
from tests.support.listeners import Recorder

CANARY = "NETRC-CANARY-4f1d2b9e"


@pytest.fixture
def netrc_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ~/.netrc whose `default` entry gives a login to every host; returns its Basic header."""
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(f"default login netrc-user password {CANARY}\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    assert requests.utils.get_netrc_auth("https://anything.example/") == ("netrc-user", CANARY)  # the premise
    return "Basic " + base64.b64encode(f"netrc-user:{CANARY}".encode()).decode()


def test_a_registry_never_gets_the_netrc_login(
    netrc_everywhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder()
    try:
        main(["find", "--no-ci", "--secret", "x", f"{recorder.host}/team/app"])
    finally:
        recorder.close()
    capsys.readouterr()
    assert recorder.heads, "the registry was never asked"
    assert not [head for head in recorder.heads if CANARY.encode() in base64.b64decode(_basic(head))]
    assert not [head for head in recorder.heads if netrc_everywhere.encode() in head]


def _basic(head: bytes) -> bytes:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"authorization" and value.strip().lower().startswith(b"basic "):
            return value.strip()[6:]
    return b""


def _sessions() -> dict[str, Any]:
    registry = RegistryClient(ImageRef("registry.example", "team/app", "1"))
    return {"key vault": _pooled_session(2), "registry": registry.session}


@pytest.mark.parametrize("which", ["key vault", "registry"])
def test_baker_s_sessions_add_no_netrc_login_to_a_request(netrc_everywhere: str, which: str) -> None:
    session = _sessions()[which]
    prepared = session.prepare_request(requests.Request("GET", "https://anything.example/v2/"))
    assert "Authorization" not in prepared.headers


@pytest.mark.docker
def test_the_engine_client_adds_no_netrc_login_to_a_request(netrc_everywhere: str) -> None:
    client = connect()
    try:
        prepared = client.api.prepare_request(requests.Request("GET", f"{client.api.base_url}/_ping"))
        assert "Authorization" not in prepared.headers
    finally:
        client.close()

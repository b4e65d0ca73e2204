"""`baker emulator`: prints what a client needs (one JSON object with --json), serves, and stops
cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import http.server
import io
import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
import requests
import yaml
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

from baker.commands.emulator import emulator
from baker.emulator import pki
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, TENANT
from baker.output import Output
from tests.support.fixtures_emulator import keyless_world

pytestmark = pytest.mark.emulator


def _run_until_signal(
    tmp_path: Path,
    signum: int,
    world: Path | None = None,
    while_serving: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[int, dict[str, Any], int]:
    """Run the command in this (main) thread; a helper reads its JSON, calls it (and
    `while_serving(json)`, whose failure is raised here), then signals."""
    stdout, stderr = io.StringIO(), io.StringIO()
    seen: dict[str, Any] = {}
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def client() -> None:
        deadline = time.monotonic() + 20
        while not stdout.getvalue().endswith("\n") and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            seen.update(json.loads(stdout.getvalue()))
            url = f"{seen['authority_host']}/{TENANT}/v2.0/.well-known/openid-configuration"
            seen["status"] = requests.get(url, verify=seen["ca_bundle"], timeout=10).status_code
            if while_serving is not None:
                while_serving(dict(seen))
        except BaseException as exc:  # raised again in the test's thread
            seen["failed"] = exc
        finally:  # always end the command, or the test would hang until pytest's timeout
            signal.pthread_kill(main_thread, signum)

    helper = threading.Thread(target=client, daemon=True)
    helper.start()
    out = Output(json_mode=True, stdout=stdout, stderr=stderr)
    code = emulator(out=out, world=world, host="127.0.0.1", port=0, state_dir=tmp_path / "state")
    helper.join(timeout=10)
    if "failed" in seen:
        raise seen.pop("failed")
    return code, seen, seen.pop("status")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_emulator_command_serves_then_stops_cleanly_on_signal(tmp_path: Path, signum: int) -> None:
    code, doc, status = _run_until_signal(tmp_path, signum)
    assert (code, status) == (130 if signum == signal.SIGINT else 0, 200)
    port = doc["port"]
    assert doc["authority_host"] == f"https://login.localhost:{port}"
    assert doc["vaults"] == {"demo": f"https://demo.vault.localhost:{port}"}
    assert doc["ca_bundle"] == str(tmp_path / "state" / "ca.pem")
    assert Path(doc["ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert doc["exports"] == [
        f"export AZURE_AUTHORITY_HOST=https://login.localhost:{port}",
        f"export REQUESTS_CA_BUNDLE={doc['trust_bundle']}",
        f"export SSL_CERT_FILE={doc['trust_bundle']}",
    ]
    assert doc["trust_bundle"] == str(tmp_path / "state" / "trust.pem")
    assert doc["unresolved"] == []  # *.localhost resolves on this machine (libnss-myhostname)
    assert doc["keyless"] == {}  # the demo world has no federated credential nor managed identity
    with pytest.raises(requests.ConnectionError):
        requests.get(doc["authority_host"], verify=doc["ca_bundle"], timeout=2)


def test_state_dir_is_private_when_created(tmp_path: Path) -> None:
    from baker.emulator import Emulator

    with Emulator.start(None, state_dir=tmp_path / "new") as emu:
        assert (tmp_path / "new").stat().st_mode & 0o077 == 0
        assert emu.ca_bundle == tmp_path / "new" / "ca.pem"
    with Emulator.start() as emu:
        assert emu.ca_bundle.parent.stat().st_mode & 0o077 == 0
        temp_dir = emu.ca_bundle.parent
    assert not temp_dir.exists()  # its own temp dir goes with it


def test_emulator_command_warns_with_the_fix_when_vault_names_do_not_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    real = socket.getaddrinfo

    def no_vault_names(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".vault.localhost"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_vault_names)
    stderr = io.StringIO()
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    stdout = io.StringIO()

    def stop_when_serving() -> None:
        # Signal only once the command is serving: its SIGTERM handler is in place by then.
        deadline = time.monotonic() + 20
        while "press Ctrl-C" not in stdout.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        signal.pthread_kill(main_thread, signal.SIGTERM)

    helper = threading.Thread(target=stop_when_serving, daemon=True)
    helper.start()
    out = Output(stdout=stdout, stderr=stderr)
    assert emulator(out=out, world=None, host="127.0.0.1", port=0, state_dir=tmp_path / "s") == 0
    helper.join(timeout=10)
    warning = stderr.getvalue()
    assert "do not resolve on this machine: demo.vault.localhost" in warning
    assert "libnss-myhostname" in warning
    assert "127.0.0.1 demo.vault.localhost" in warning


def test_emulator_command_tells_how_to_try_each_keyless_sign_in_its_world_allows(tmp_path: Path) -> None:
    world = tmp_path / "world.yaml"
    world.write_text(yaml.safe_dump(keyless_world()))
    code, doc, _ = _run_until_signal(tmp_path, signal.SIGTERM, world)
    assert code == 0
    assert set(doc["keyless"]) == {"github-actions", "azure-pipelines", "managed-identity"}
    github = doc["keyless"]["github-actions"]
    assert github["ACTIONS_ID_TOKEN_REQUEST_URL"].startswith("https://github.localhost:")
    assert github["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
    assert set(doc["keyless"]["azure-pipelines"]) == {"SYSTEM_OIDCREQUESTURI", "SYSTEM_ACCESSTOKEN"}
    assert set(doc["keyless"]["managed-identity"]) == {"IDENTITY_ENDPOINT", "IDENTITY_HEADER"}


@pytest.fixture
def other_tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A TLS server on loopback whose certificate comes from a CA of its own (not the emulator's):
    its URL and that CA's file."""
    (tmp_path / "other-ca").mkdir()
    ca_file, context = pki.make_tls(tmp_path / "other-ca", [])

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}/", ca_file
    finally:
        server.shutdown()
        server.server_close()


def test_the_banners_ca_bundle_keeps_every_other_tls_client_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_tls_server: tuple[str, Path]
) -> None:
    """Issue 18: the banner exported the emulator's CA alone, so pip and every other TLS client in
    that shell failed.  The "system" CAs here are a temp bundle holding another CA (no network); with
    the printed environment the SDK reaches the emulator and a server of that other CA still
    verifies, both for requests (REQUESTS_CA_BUNDLE) and for OpenSSL's default (SSL_CERT_FILE)."""
    other_url, other_ca = other_tls_server
    system = tmp_path / "system-ca.pem"
    system.write_bytes(other_ca.read_bytes())
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(system))
    monkeypatch.setenv("SSL_CERT_FILE", str(system))
    checked: dict[str, object] = {}

    def with_the_printed_env(doc: dict[str, Any]) -> None:
        for line in doc["exports"]:
            name, _, value = line.removeprefix("export ").partition("=")
            monkeypatch.setenv(name, value)
        # No authority= and no connection_verify=: the exported variables do it.
        credential = ClientSecretCredential(TENANT, CLIENT_ID, CLIENT_SECRET, disable_instance_discovery=True)
        with SecretClient(doc["vaults"]["demo"], credential) as client:
            checked["sdk"] = client.get_secret("db-password").value
        checked["requests"] = requests.get(other_url, timeout=10).text
        # urllib verifies with ssl's default context, which reads SSL_CERT_FILE (as pip and curl do)
        with urllib.request.urlopen(other_url, timeout=10) as answer:  # noqa: S310 - an https URL
            checked["openssl"] = answer.read().decode()
        emulator_openid = f"{doc['authority_host']}/{TENANT}/v2.0/.well-known/openid-configuration"
        with urllib.request.urlopen(emulator_openid, timeout=10) as answer:  # noqa: S310 - an https URL
            checked["openssl-emulator"] = answer.status
        # The control: the emulator's CA alone (the old banner) does not verify the other server.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", doc["ca_bundle"])
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(other_url, timeout=10)
        checked["control"] = True

    code, doc, status = _run_until_signal(tmp_path, signal.SIGTERM, while_serving=with_the_printed_env)
    assert (code, status) == (0, 200)
    assert checked == {
        "sdk": "hunter2-demo-pw",
        "requests": "hello",
        "openssl": "hello",
        "openssl-emulator": 200,
        "control": True,
    }
    bundle = Path(doc["trust_bundle"]).read_bytes()
    assert other_ca.read_bytes().strip() in bundle
    assert Path(doc["ca_bundle"]).read_bytes().strip() in bundle


def test_the_trust_bundle_starts_from_certifi_when_nothing_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    certifi_bundle = Path(certifi.where()).read_bytes()
    assert pki.system_ca_files(os.environ)[0] == Path(certifi.where())
    ca_file = tmp_path / "ca.pem"
    last = certifi_bundle.rindex(b"-----BEGIN CERTIFICATE-----")
    ca_file.write_bytes(certifi_bundle[last:])  # a CA certifi already holds
    bundle = pki.write_trust_bundle(tmp_path, ca_file, os.environ).read_bytes()
    begin = b"-----BEGIN CERTIFICATE-----"
    assert bundle.count(begin) >= certifi_bundle.count(begin)
    assert bundle.count(ca_file.read_bytes().strip()) == 1  # each certificate once

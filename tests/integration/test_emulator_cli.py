"""`baker emulator`: prints what a client needs (one JSON object with --json), serves, and stops
cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import io
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from baker.commands.emulator import emulator
from baker.emulator.demo import TENANT
from baker.output import Output
from tests.support.fixtures_emulator import keyless_world

pytestmark = pytest.mark.emulator


def _run_until_signal(
    tmp_path: Path, signum: int, world: Path | None = None
) -> tuple[int, dict[str, Any], int]:
    """Run the command in this (main) thread; a helper reads its JSON, calls it, then signals."""
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
        finally:  # always end the command, or the test would hang until pytest's timeout
            signal.pthread_kill(main_thread, signum)

    helper = threading.Thread(target=client, daemon=True)
    helper.start()
    out = Output(json_mode=True, stdout=stdout, stderr=stderr)
    code = emulator(out=out, world=world, host="127.0.0.1", port=0, state_dir=tmp_path / "state")
    helper.join(timeout=10)
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
        f"export REQUESTS_CA_BUNDLE={doc['ca_bundle']}",
        f"export SSL_CERT_FILE={doc['ca_bundle']}",
    ]
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

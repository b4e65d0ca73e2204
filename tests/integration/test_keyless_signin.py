"""Keyless sign-in end to end: baker's CLI, the UNMODIFIED azure-identity credentials, the emulator's
Entra, OIDC issuer, GitHub / Azure Pipelines token endpoints and managed identity endpoint, over TLS.
No client secret is anywhere in the environment (`no_client_secret` removes every AZURE_CLIENT_SECRET
and checks none is left)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.image import engine
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import (
    FEDERATED_APP,
    GITHUB_SUBJECT,
    KEYLESS_TENANT,
    KEYLESS_VALUE,
    SERVICE_CONNECTION,
    USER_IDENTITY,
)
from tests.support.manifests import azure_credential, write_manifest

pytestmark = pytest.mark.emulator

KEYLESS_VARS = (
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SYSTEM_OIDCREQUESTURI",
    "SYSTEM_ACCESSTOKEN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
)
K8S_SUBJECT = "system:serviceaccount:ns:app"


@pytest.fixture
def no_client_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in KEYLESS_VARS:
        monkeypatch.delenv(name, raising=False)
    yield
    assert not any("CLIENT_SECRET" in name for name in os.environ)


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def keyless_manifest(
    directory: Path, emu: Emulator, credential: dict[str, Any], *, credentials: int = 1, base: str = "busybox"
) -> Path:
    """`credentials` credentials c0, c1...: each the keyless vault over `credential`'s keys, each
    read by its own env var."""
    blocks = {
        f"c{index}": azure_credential(
            emu.vault_url("keyless"),
            client_secret=None,
            default=False,
            authority_host=emu.authority_host,
            **credential,
        )
        for index in range(credentials)
    }
    env = {f"VALUE{index}": {"secret": "value", "credential": f"c{index}"} for index in range(credentials)}
    return write_manifest(directory, base=base, credentials=blocks, env=env)


WORKLOAD = {"auth": "workload-identity", "tenant_id": KEYLESS_TENANT, "client_id": FEDERATED_APP}


def render_values(tmp_path: Path, manifest: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    out = tmp_path / "out"
    code = main(["render", "-f", str(manifest), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    args = json.loads((out / "docker-bake.json").read_text(encoding="utf-8"))["target"]["default"]["args"]
    return {name.split("_", 2)[2]: value for name, value in args.items()}


def hosts(emu: Emulator) -> list[str]:
    return [r.host.split(":")[0] for r in emu.requests()]


def test_github_actions_flow_renders_the_value_byte_exact(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(monkeypatch, keyless_emulator.github_actions_env())
    manifest = keyless_manifest(tmp_path, keyless_emulator, WORKLOAD)
    assert render_values(tmp_path, manifest, capsys) == {"VALUE0": KEYLESS_VALUE}
    seen = hosts(keyless_emulator)
    assert seen.count("github.localhost") == 1 and seen.count("login.localhost") >= 1


def test_a_token_file_named_by_the_credential_is_read(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(keyless_emulator.mint_id_token(K8S_SUBJECT) + "\n", encoding="utf-8")
    manifest = keyless_manifest(
        tmp_path, keyless_emulator, {**WORKLOAD, "federated_token_file": str(token_file)}
    )
    assert render_values(tmp_path, manifest, capsys) == {"VALUE0": KEYLESS_VALUE}


def test_azure_federated_token_file_and_the_azure_fallbacks(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(keyless_emulator.mint_id_token(K8S_SUBJECT), encoding="utf-8")
    set_env(
        monkeypatch,
        {
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            "AZURE_TENANT_ID": KEYLESS_TENANT,
            "AZURE_CLIENT_ID": FEDERATED_APP,
        },
    )
    manifest = keyless_manifest(tmp_path, keyless_emulator, {"auth": "workload-identity"})
    assert render_values(tmp_path, manifest, capsys) == {"VALUE0": KEYLESS_VALUE}


def test_azure_pipelines_service_connection(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(monkeypatch, keyless_emulator.azure_pipelines_env())
    manifest = keyless_manifest(
        tmp_path, keyless_emulator, {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION}
    )
    assert render_values(tmp_path, manifest, capsys) == {"VALUE0": KEYLESS_VALUE}
    assert "devops.localhost" in hosts(keyless_emulator)


def test_azure_pipelines_sign_in_is_refused_when_the_process_url_is_not_the_one_checked(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rtu-1: the Python API checks the mapping's SYSTEM_OIDCREQUESTURI; azure-identity sends
    SYSTEM_ACCESSTOKEN to os.environ's.  With a different (here: https, so no other check stops it)
    URL in the process, sign-in is refused before any request, naming the variable, never a URL."""
    from baker.errors import ProviderError
    from baker.manifest import checks
    from baker.providers.azure.provider import AzureKeyVaultProvider

    environ = keyless_emulator.azure_pipelines_env()
    elsewhere = "https://elsewhere.localhost:1/org/_apis/oidctoken"
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", elsewhere)
    manifest_path = keyless_manifest(
        tmp_path, keyless_emulator, {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION}
    )
    provider = AzureKeyVaultProvider(checks.load(manifest_path, environ=environ).credentials["c0"])
    try:
        with pytest.raises(ProviderError) as caught:
            provider.get_secret("value")
    finally:
        provider.close()
    message = str(caught.value)
    assert "SYSTEM_OIDCREQUESTURI in the process environment" in message
    assert "elsewhere" not in message and environ["SYSTEM_OIDCREQUESTURI"] not in message
    assert "devops.localhost" not in hosts(keyless_emulator)  # nothing asked of the OIDC endpoint


def test_federated_token_from_a_variable_gitlab_style(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITLAB_OIDC_TOKEN", keyless_emulator.mint_id_token(K8S_SUBJECT))
    manifest = keyless_manifest(
        tmp_path, keyless_emulator, {**WORKLOAD, "federated_token": "${GITLAB_OIDC_TOKEN}"}
    )
    assert render_values(tmp_path, manifest, capsys) == {"VALUE0": KEYLESS_VALUE}


@pytest.mark.parametrize("client_id", [None, USER_IDENTITY], ids=["system-assigned", "user-assigned"])
def test_managed_identity_through_the_app_service_endpoint(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    client_id: str | None,
) -> None:
    set_env(monkeypatch, keyless_emulator.managed_identity_env())
    credential: dict[str, Any] = {"auth": "managed-identity"}
    if client_id:
        credential["client_id"] = client_id
    manifest = keyless_manifest(tmp_path, keyless_emulator, credential)
    assert render_values(tmp_path, manifest, capsys) == {"VALUE0": KEYLESS_VALUE}
    assert "identity.localhost" in hosts(keyless_emulator)


def test_a_github_token_that_expires_mid_run_is_fetched_again(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two credentials share the job's token; test-connection signs them in one after the other, and the
    # slowed vault makes the first one's checks outlast the 2-second token.
    set_env(monkeypatch, keyless_emulator.github_actions_env(subject=GITHUB_SUBJECT, token_lifetime=2))
    keyless_emulator.faults.latency = 1.5
    manifest = keyless_manifest(tmp_path, keyless_emulator, WORKLOAD, credentials=2)
    code = main(["test-connection", "-f", str(manifest), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert all(c["ok"] for c in json.loads(captured.out)["credentials"])
    assert hosts(keyless_emulator).count("github.localhost") == 2


@pytest.mark.docker
def test_github_actions_flow_bakes_the_value_byte_exact_with_a_real_engine(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
) -> None:
    set_env(monkeypatch, keyless_emulator.github_actions_env())
    manifest = keyless_manifest(tmp_path, keyless_emulator, WORKLOAD, base=busybox_base)
    name = image_names("keyless")
    assert main(["build", "-f", str(manifest), "--tag", name, "--json"]) == 0
    captured = capsys.readouterr()
    image_names.track(json.loads(captured.out)["image_id"])
    info = engine.inspect_image(name, client=docker_client)
    assert info is not None
    assert dict(item.split("=", 1) for item in info.env)["VALUE0"] == KEYLESS_VALUE
    assert KEYLESS_VALUE not in captured.out + captured.err

"""Each keyless diagnosis with its evidence, from the UNMODIFIED SDK against the emulator: what Entra,
the CI token endpoints and the managed identity endpoint really answer, read by baker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.emulator.world import DEFAULT_GITHUB_OWNER_ID, DEFAULT_GITHUB_REPOSITORY_ID
from tests.integration.test_keyless_signin import (  # noqa: F401 - fixture
    K8S_SUBJECT,
    WORKLOAD,
    keyless_manifest,
    no_client_secret,
    set_env,
)
from tests.support.fixtures_emulator import (
    FEDERATED_APP,
    GITHUB_SUBJECT,
    KEYLESS_TENANT,
    SERVICE_CONNECTION,
    UNGRANTED_IDENTITY,
    keyless_world,
)

pytestmark = pytest.mark.emulator


def connect(manifest: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code = main(["test-connection", "-f", str(manifest), "--json"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    (credential,) = document.get("credentials") or [document]
    return code, credential, captured.out + captured.err


Setup = Callable[[Emulator, pytest.MonkeyPatch, Path], dict[str, Any]]


def github_subject(subject: str) -> Setup:
    def setup(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
        set_env(monkeypatch, emu.github_actions_env(subject=subject))
        return WORKLOAD

    return setup


def github_audience(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    set_env(monkeypatch, emu.github_actions_env())
    return {**WORKLOAD, "audience": "api://SomethingElse"}


def foreign_issuer(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    monkeypatch.setenv("CI_TOKEN", emu.mint_id_token(K8S_SUBJECT, issuer="/gitlab"))
    return {**WORKLOAD, "federated_token": "${CI_TOKEN}"}


@pytest.mark.parametrize(
    ("setup", "aadsts", "issuer_path", "subject", "audience"),
    [
        (
            github_subject("repo:baker-org/app:pull_request"),
            700213,
            "/github",
            "repo:baker-org/app:pull_request",
            None,
        ),
        (github_audience, 700212, "/github", GITHUB_SUBJECT, "api://SomethingElse"),
        (foreign_issuer, 700211, "/gitlab", K8S_SUBJECT, None),
    ],
    ids=["subject", "audience", "issuer"],
)
def test_federated_identity_mismatch_names_what_the_token_presented_and_the_command_to_match_it(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: Setup,
    aadsts: int,
    issuer_path: str,
    subject: str,
    audience: str | None,
) -> None:
    manifest = keyless_manifest(tmp_path, keyless_emulator, setup(keyless_emulator, monkeypatch, tmp_path))
    code, result, _ = connect(manifest, capsys)
    assert code == 1
    assert (result["code"], result["evidence"]) == ("federated-identity-mismatch", f"AADSTS{aadsts}")
    issuer = keyless_emulator.oidc_issuer(issuer_path)
    audience = audience or "api://AzureADTokenExchange"
    assert f"issuer {issuer}, subject {subject}, audience {audience}" in result["message"]
    assert f"az ad app federated-credential create --id {FEDERATED_APP} --parameters" in result["fix"]
    assert f'"subject":"{subject}"' in result["fix"] and "Federated credentials" in result["fix"]
    assert "repo:ORG/REPO:environment:NAME" in result["fix"]


def test_aadsts70021_an_app_without_any_federated_credential(
    tmp_path: Path,
    emulator_factory: Callable[..., Emulator],
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = keyless_world()
    world["tenants"][KEYLESS_TENANT]["apps"][FEDERATED_APP]["federated_credentials"] = []
    emu = emulator_factory(world)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emu.ca_bundle))
    set_env(monkeypatch, emu.github_actions_env())
    code, result, _ = connect(keyless_manifest(tmp_path, emu, WORKLOAD), capsys)
    assert (code, result["code"], result["evidence"]) == (1, "federated-identity-mismatch", "AADSTS70021")
    assert f"subject {GITHUB_SUBJECT}" in result["message"]


def test_an_expired_federated_token_is_federated_token_expired(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CI_TOKEN", keyless_emulator.mint_id_token(K8S_SUBJECT, expires=time.time() - 60))
    manifest = keyless_manifest(tmp_path, keyless_emulator, {**WORKLOAD, "federated_token": "${CI_TOKEN}"})
    code, result, _ = connect(manifest, capsys)
    assert (code, result["code"], result["evidence"]) == (1, "federated-token-expired", "AADSTS700024")
    assert "valid until" in result["message"] and f"subject {K8S_SUBJECT}" in result["message"]


@pytest.mark.parametrize("command", ["test-connection", "render", "secrets"])
def test_no_token_source_refuses_before_any_network_call(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    manifest = keyless_manifest(tmp_path, keyless_emulator, WORKLOAD)
    argv = {"render": ["render", "--out", str(tmp_path / "out")], "secrets": ["secrets", "list"]}.get(
        command, [command]
    )
    code = main([*argv, "-f", str(manifest), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert (code, document["code"]) == (2, "no-federated-token")
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in document["message"]
    assert keyless_emulator.requests() == []


def test_a_refused_github_token_request_is_no_federated_token_with_its_status(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = keyless_emulator.github_actions_env()
    env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "not-this-jobs-request-token-0123"
    set_env(monkeypatch, env)
    code, result, _ = connect(keyless_manifest(tmp_path, keyless_emulator, WORKLOAD), capsys)
    assert (code, result["code"], result["evidence"]) == (1, "no-federated-token", "401")
    assert "id-token: write" in result["message"]
    assert "login.localhost" not in [r.host for r in keyless_emulator.requests()]


def test_a_refused_azure_pipelines_token_request_is_no_federated_token(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = keyless_emulator.azure_pipelines_env()
    env["SYSTEM_ACCESSTOKEN"] = "not-the-system-access-token-0123"
    set_env(monkeypatch, env)
    manifest = keyless_manifest(
        tmp_path, keyless_emulator, {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION}
    )
    code, result, _ = connect(manifest, capsys)
    assert (code, result["code"], result["evidence"]) == (1, "no-federated-token", "401")
    assert "SYSTEM_OIDCREQUESTURI" in result["message"]


def test_an_unreadable_token_file_is_no_federated_token(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("", encoding="utf-8")  # present (the load found it) but empty
    manifest = keyless_manifest(
        tmp_path, keyless_emulator, {**WORKLOAD, "federated_token_file": str(token_file)}
    )
    code, result, _ = connect(manifest, capsys)
    assert (code, result["code"], result["evidence"]) == (1, "no-federated-token", "token file")


@pytest.mark.parametrize(
    ("env_change", "client_id", "words"),
    [
        ({"IDENTITY_HEADER": "wrong-identity-header-0123456789"}, None, "401"),
        ({}, "d4d4d4d4-0000-4000-8000-00000000000d", "Unable to load the proper Managed Identity"),
        (None, None, "instance metadata service"),
    ],
    ids=["wrong-header", "unknown-identity", "no-endpoint"],
)
def test_managed_identity_unavailable(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env_change: dict[str, str] | None,
    client_id: str | None,
    words: str,
) -> None:
    if env_change is not None:
        set_env(monkeypatch, {**keyless_emulator.managed_identity_env(), **env_change})
    credential: dict[str, Any] = {"auth": "managed-identity"}
    if client_id:
        credential["client_id"] = client_id
    code, result, output = connect(keyless_manifest(tmp_path, keyless_emulator, credential), capsys)
    assert (code, result["code"]) == (1, "managed-identity-unavailable"), output
    assert words in result["message"]
    if env_change:
        assert env_change.get("IDENTITY_HEADER", "-") not in output


def test_a_managed_identity_without_a_grant_is_missing_role(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(monkeypatch, keyless_emulator.managed_identity_env())
    manifest = keyless_manifest(
        tmp_path, keyless_emulator, {"auth": "managed-identity", "client_id": UNGRANTED_IDENTITY}
    )
    code, result, _ = connect(manifest, capsys)
    assert (code, result["code"]) == (1, "missing-role")


def test_azure_cli_missing_is_azure_cli_not_signed_in(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no az anywhere
    code, result, output = connect(
        keyless_manifest(tmp_path, keyless_emulator, {"auth": "azure-cli"}), capsys
    )
    assert (code, result["code"]) == (1, "azure-cli-not-signed-in"), output
    assert "az login" in result["fix"]
    assert keyless_emulator.requests() == []


# --- GitHub's two subject forms: repo:OWNER/REPO:... and the immutable repo:OWNER@ID/REPO@ID:... ----

IMMUTABLE_SUBJECT = (
    f"repo:baker-org@{DEFAULT_GITHUB_OWNER_ID}/app@{DEFAULT_GITHUB_REPOSITORY_ID}:ref:refs/heads/main"
)


def _github_world(credential_subject: str, subject_form: str = "plain") -> dict[str, Any]:
    world = keyless_world()
    app = world["tenants"][KEYLESS_TENANT]["apps"][FEDERATED_APP]
    app["federated_credentials"][0]["subject"] = credential_subject
    world["oidc"]["github_actions"]["subject_form"] = subject_form
    return world


def test_an_immutable_github_subject_against_a_plain_credential_names_both_forms(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The credential is written repo:OWNER/REPO:... (GITHUB_SUBJECT); the job's token presents
    GitHub's immutable form, as new repositories do: AADSTS700213, and the fix says why."""
    set_env(
        monkeypatch, keyless_emulator.github_actions_env(subject=GITHUB_SUBJECT, subject_form="immutable")
    )
    code, result, _ = connect(keyless_manifest(tmp_path, keyless_emulator, WORKLOAD), capsys)
    assert (code, result["code"], result["evidence"]) == (1, "federated-identity-mismatch", "AADSTS700213")
    assert f"subject {IMMUTABLE_SUBJECT}," in result["message"]
    assert f"immutable form ({IMMUTABLE_SUBJECT}); a federated credential" in result["fix"]
    assert f"written in the plain form ({GITHUB_SUBJECT}) does not match it" in result["fix"]
    assert f'"subject":"{IMMUTABLE_SUBJECT}"' in result["fix"]  # the command writes the presented form


def test_a_plain_github_subject_against_an_immutable_credential_names_both_forms(
    tmp_path: Path,
    emulator_factory: Callable[..., Emulator],
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = emulator_factory(_github_world(IMMUTABLE_SUBJECT))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emu.ca_bundle))
    set_env(monkeypatch, emu.github_actions_env())  # the world's default job: the plain form
    code, result, _ = connect(keyless_manifest(tmp_path, emu, WORKLOAD), capsys)
    assert (code, result["code"], result["evidence"]) == (1, "federated-identity-mismatch", "AADSTS700213")
    assert f"GitHub's plain form ({GITHUB_SUBJECT}); a federated credential" in result["fix"]
    assert f"written in GitHub's immutable form ({IMMUTABLE_SUBJECT}) does not match it" in result["fix"]


def test_an_immutable_credential_signs_in_a_job_presenting_the_immutable_form(
    tmp_path: Path,
    emulator_factory: Callable[..., Emulator],
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = emulator_factory(_github_world(IMMUTABLE_SUBJECT, subject_form="immutable"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emu.ca_bundle))
    set_env(monkeypatch, emu.github_actions_env())
    code, _, output = connect(keyless_manifest(tmp_path, emu, WORKLOAD), capsys)
    assert code == 0, output


def test_an_audience_mismatch_says_nothing_of_subject_forms(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = keyless_manifest(
        tmp_path, keyless_emulator, github_audience(keyless_emulator, monkeypatch, tmp_path)
    )
    code, result, _ = connect(manifest, capsys)
    assert (code, result["evidence"]) == (1, "AADSTS700212")
    assert "immutable form" not in result["fix"]

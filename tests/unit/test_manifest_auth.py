"""A credential's `auth:`: the keys each kind takes, the token sources found offline in the SPEC's
order, and a missing one (a warning offline, `no-federated-token` for a command that connects)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from baker.cli import main
from baker.diagnose import Diagnosis
from baker.errors import EXIT_OK, EXIT_USAGE, ManifestError, Problem
from baker.manifest.checks import load
from baker.model import AZURE_PIPELINES, FILE, GITHUB, VARIABLE, Manifest
from baker.secret import REDACTOR

GITHUB_ENV = {
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://github.example/idtoken?api-version=2.0",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token-canary-0123456789",
}
PIPELINES_ENV = {
    "SYSTEM_OIDCREQUESTURI": "https://dev.azure.example/oidctoken",
    "SYSTEM_ACCESSTOKEN": "system-access-token-canary-0123456789",
}
IDS = {"AZURE_TENANT_ID": "tenant-1", "AZURE_CLIENT_ID": "client-1"}


def manifest_text(credential: str, *, used: bool = True) -> str:
    env = "  A: {secret: a, credential: c}\n" if used else "  A: literal\n"
    body = textwrap.indent(textwrap.dedent(credential), "    ")
    return (
        "version: 1\nimage: {from: busybox}\ncredentials:\n  c:\n"
        "    provider: azure-key-vault\n    vault_url: https://v.vault.azure.net\n"
        f"{body}env:\n{env}"
    )


def load_cred(
    tmp_path: Path, credential: str, environ: dict[str, str], *, offline: bool = False, used: bool = True
) -> Manifest:
    path = tmp_path / "baker.yaml"
    path.write_text(manifest_text(credential, used=used), encoding="utf-8")
    return load(path, environ=environ, offline=offline)


def problems(tmp_path: Path, credential: str, environ: dict[str, str]) -> tuple[Problem, ...]:
    with pytest.raises(ManifestError) as info:
        load_cred(tmp_path, credential, environ)
    assert info.value.exit_code == EXIT_USAGE
    return info.value.problems


@pytest.mark.parametrize(
    ("credential", "key", "words"),
    [
        (
            "auth: workload-identity\nclient_secret: ${S}\n",
            "credentials.c.client_secret",
            "`auth: workload-identity` signs in without a client secret",
        ),
        (
            "auth: managed-identity\nclient_secret: ${S}\n",
            "credentials.c.client_secret",
            "`auth: managed-identity` signs in without a client secret",
        ),
        ("auth: azure-cli\nclient_secret: ${S}\n", "credentials.c.client_secret", "without a client secret"),
        ("auth: workload-idnetity\n", "credentials.c.auth", "did you mean 'workload-identity'?"),
        ("auth: keyless\n", "credentials.c.auth", "known: client-secret, workload-identity"),
        (
            "auth: workload-identity\nfederated_token_fil: /x\n",
            "credentials.c.federated_token_fil",
            "did you mean 'federated_token_file'?",
        ),
        (
            "auth: workload-identity\naudiance: api://x\n",
            "credentials.c.audiance",
            "did you mean 'audience'?",
        ),
        (
            "auth: managed-identity\ntenant_id: t\n",
            "credentials.c.tenant_id",
            "belongs to `auth: client-secret / workload-identity / azure-cli`",
        ),
        (
            "federated_token_file: /x\n",
            "credentials.c.federated_token_file",
            "this credential's auth is client-secret",
        ),
        (
            "auth: azure-cli\nclient_id: c\n",
            "credentials.c.client_id",
            "this credential's auth is azure-cli",
        ),
        (
            "auth: workload-identity\nfederated_token: eyJhbGciOi.literal.token\n",
            "credentials.c.federated_token",
            "must be `${NAME}`",
        ),
    ],
)
def test_auth_keys_are_checked_per_kind(tmp_path: Path, credential: str, key: str, words: str) -> None:
    found = [p for p in problems(tmp_path, credential, {**IDS, **GITHUB_ENV, "S": "x"}) if p.key == key]
    assert found and words in found[0].message, found


def test_a_literal_federated_token_is_masked_and_never_echoed(tmp_path: Path) -> None:
    literal = "eyJhbGciOi.literal-federated-token.canary"
    found = problems(
        tmp_path, f"auth: workload-identity\nfederated_token: {literal}\n", {**IDS, **GITHUB_ENV}
    )
    assert all(literal not in str(p) for p in found)
    assert REDACTOR.redact(f"x {literal} y") != f"x {literal} y"


def test_a_keyless_credential_never_reads_azure_client_secret(tmp_path: Path) -> None:
    manifest = load_cred(tmp_path, "auth: workload-identity\n", {**IDS, **GITHUB_ENV})
    spec = manifest.credentials["c"]
    assert spec.client_secret is None and spec.unset_vars == ()
    assert (spec.tenant_id, spec.client_id) == ("tenant-1", "client-1")  # the AZURE_* fallbacks


def test_managed_identity_client_id_is_optional_and_has_no_fallback(tmp_path: Path) -> None:
    system = load_cred(tmp_path, "auth: managed-identity\n", IDS).credentials["c"]
    user = load_cred(tmp_path, "auth: managed-identity\nclient_id: ${MI}\n", {"MI": "mi-1"}).credentials["c"]
    assert system.client_id is None and "system-assigned" in system.auth.where
    assert user.client_id == "mi-1" and "user-assigned identity mi-1" in user.auth.where


def test_workload_identity_sources_in_the_spec_order(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("eyJ.file.token")
    env_file = tmp_path / "env-token"
    env_file.write_text("eyJ.env.token")
    every = {
        **IDS,
        **GITHUB_ENV,
        **PIPELINES_ENV,
        "AZURE_FEDERATED_TOKEN_FILE": str(env_file),
        "GITLAB_TOKEN": "eyJ.gitlab.token.canary",
    }
    cred = (
        f"auth: workload-identity\nfederated_token_file: {token_file}\n"
        "service_connection_id: sc-1\nfederated_token: ${GITLAB_TOKEN}\n"
    )
    order = []
    environ = dict(every)
    for drop in (
        None,
        "file",
        "AZURE_FEDERATED_TOKEN_FILE",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SYSTEM_ACCESSTOKEN",
    ):
        if drop == "file":
            token_file.unlink()
        elif drop is not None:
            environ.pop(drop)
        source = load_cred(tmp_path, cred, environ).credentials["c"].auth.source
        assert source is not None
        order.append((source.kind, source.path))
    assert order == [
        (FILE, str(token_file)),
        (FILE, str(env_file)),
        (GITHUB, None),
        (AZURE_PIPELINES, None),
        (VARIABLE, None),
    ]


def test_the_audience_defaults_to_azure_ad_token_exchange_and_can_be_set(tmp_path: Path) -> None:
    default = load_cred(tmp_path, "auth: workload-identity\n", {**IDS, **GITHUB_ENV}).credentials["c"].auth
    custom = load_cred(tmp_path, "auth: workload-identity\naudience: api://custom\n", {**IDS, **GITHUB_ENV})
    assert default.audience == "api://AzureADTokenExchange"
    assert custom.credentials["c"].auth.audience == "api://custom"


def test_request_tokens_are_registered_before_any_message(tmp_path: Path) -> None:
    load_cred(tmp_path, "auth: workload-identity\n", {**IDS, **GITHUB_ENV, **PIPELINES_ENV})
    for token in (GITHUB_ENV["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], PIPELINES_ENV["SYSTEM_ACCESSTOKEN"]):
        assert token not in REDACTOR.redact(f"header: {token}")


def test_no_token_source_is_a_warning_offline_naming_the_sources(tmp_path: Path) -> None:
    manifest = load_cred(tmp_path, "auth: workload-identity\n", IDS, offline=True)
    (warning,) = [w for w in manifest.warnings if "no federated token" in w]
    for source in ("AZURE_FEDERATED_TOKEN_FILE", "ACTIONS_ID_TOKEN_REQUEST_URL", "SYSTEM_OIDCREQUESTURI"):
        assert source in warning
    assert "federated_token" in warning and "no-federated-token" in warning


def test_no_token_source_refuses_a_connecting_load_with_its_code(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, "auth: workload-identity\n", IDS)
    assert problem.code is Diagnosis.NO_FEDERATED_TOKEN
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in problem.message


def test_an_unused_credential_without_a_token_is_refused_when_a_command_names_it(tmp_path: Path) -> None:
    manifest = load_cred(tmp_path, "auth: workload-identity\n", IDS, used=False)
    with pytest.raises(ManifestError) as info:
        manifest.require_credentials(["c"])
    assert info.value.to_json()["code"] == "no-federated-token"
    assert "id-token: write" in (info.value.hint or "")


def test_a_named_token_file_that_is_missing_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    (problem,) = problems(tmp_path, f"auth: workload-identity\nfederated_token_file: {missing}\n", IDS)
    assert f"no such file: {missing}" in problem.message


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_pass_without_a_token_source(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in IDS.items():
        monkeypatch.setenv(name, value)
    for name in (*GITHUB_ENV, *PIPELINES_ENV, "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "baker.yaml"
    path.write_text(manifest_text("auth: workload-identity\n"), encoding="utf-8")
    assert main([command, "-f", str(path)]) == EXIT_OK
    assert "no federated token" in capsys.readouterr().err


def test_plan_shows_each_credentials_auth_and_token_source_never_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**IDS, **GITHUB_ENV}.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "baker.yaml"
    path.write_text(manifest_text("auth: workload-identity\n"), encoding="utf-8")
    assert main(["plan", "-f", str(path), "--json"]) == EXIT_OK
    captured = capsys.readouterr()
    (row,) = json.loads(captured.out)["credentials"]
    assert row["auth"] == "workload-identity" and row["token_source"].startswith("GitHub Actions")
    assert GITHUB_ENV["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] not in captured.out + captured.err

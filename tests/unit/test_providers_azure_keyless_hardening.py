"""Keyless sign-in against a hostile or broken environment (red team 2): request tokens go over https
only (plain http to loopback only), a token source that is too big or not a regular file is refused
saying what it is, and a token's claims are shown capped, escaped and quoted."""

from __future__ import annotations

import json
import os
import shlex
import threading
from pathlib import Path
from typing import Any, cast

import pytest
import requests

from baker import loopback
from baker.diagnose import Diagnosis
from baker.errors import EXIT_USAGE, ManifestError
from baker.manifest.checks import load
from baker.model import FEDERATED_TOKEN_MAX, MANAGED_IDENTITY, AuthSpec, CredentialSpec
from baker.providers.azure import keyless, keyless_errors
from baker.providers.azure.keyless import FederatedTokenError, GitHubTokens
from baker.secret import Secret
from tests.unit.test_manifest_auth import IDS, manifest_text
from tests.unit.test_providers_azure_keyless import FakeSession

REQUEST_TOKEN = "request-token-canary-hardening-0123456789"


@pytest.mark.parametrize(
    ("url", "in_clear"),
    [
        ("https://token.actions.githubusercontent.com/x?api-version=2.0", False),
        ("http://localhost:8080/msi/token", False),
        ("http://127.0.0.1:41741/msi/token", False),
        ("http://[::1]:80/x", False),
        ("http://identity.localhost/x", False),
        ("http://token.actions.example.com/x", True),
        ("http://127.0.0.1@evil.example/x", True),  # the host is evil.example
        ("HTTP://10.0.0.1/x", True),
        ("ftp://localhost/x", True),
        ("token.actions.example.com/x", True),
        ("https:///no-host", True),
        ("http://[::1/x", True),  # does not parse
    ],
)
def test_only_https_or_plain_http_to_loopback_is_not_in_clear(url: str, in_clear: bool) -> None:
    assert loopback.in_clear(url) is in_clear


@pytest.mark.parametrize(
    ("credential", "environ", "variable"),
    [
        (
            "auth: workload-identity\n",
            {
                "ACTIONS_ID_TOKEN_REQUEST_URL": "http://token.actions.example.com/x?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
            },
            "ACTIONS_ID_TOKEN_REQUEST_URL",
        ),
        (
            "auth: workload-identity\nservice_connection_id: sc-1\n",
            {
                "SYSTEM_OIDCREQUESTURI": "http://dev.example.com/oidctoken",
                "SYSTEM_ACCESSTOKEN": REQUEST_TOKEN,
            },
            "SYSTEM_OIDCREQUESTURI",
        ),
        (
            "auth: managed-identity\n",
            {"IDENTITY_ENDPOINT": "http://identity.example.com/msi/token", "IDENTITY_HEADER": REQUEST_TOKEN},
            "IDENTITY_ENDPOINT",
        ),
        (
            "auth: managed-identity\n",
            {"MSI_ENDPOINT": "http://10.1.2.3/msi/token", "MSI_SECRET": REQUEST_TOKEN},
            "MSI_ENDPOINT",
        ),
    ],
    ids=["github", "azure-pipelines", "managed-identity", "cloud-shell"],
)
@pytest.mark.parametrize("offline", [True, False], ids=["validate", "connecting"])
def test_a_request_url_in_clear_to_a_non_loopback_host_is_refused_offline(
    tmp_path: Path, credential: str, environ: dict[str, str], variable: str, offline: bool
) -> None:
    path = tmp_path / "baker.yaml"
    path.write_text(manifest_text(credential), encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load(path, environ={**IDS, **environ}, offline=offline)
    assert info.value.exit_code == EXIT_USAGE
    (problem,) = [p for p in info.value.problems if variable in p.message]
    assert "not https" in problem.message and "loopback" in problem.message
    assert REQUEST_TOKEN not in json.dumps(info.value.to_json())


@pytest.mark.parametrize(
    "environ",
    [
        {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"},
        {"IDENTITY_ENDPOINT": "http://localhost:42356/msi/token", "IDENTITY_HEADER": "h"},
    ],
    ids=["github", "managed-identity"],
)
def test_plain_http_to_loopback_stays_allowed(tmp_path: Path, environ: dict[str, str]) -> None:
    kind = "managed-identity" if "IDENTITY_ENDPOINT" in environ else "workload-identity"
    path = tmp_path / "baker.yaml"
    path.write_text(manifest_text(f"auth: {kind}\n"), encoding="utf-8")
    manifest = load(path, environ={**IDS, **environ}, offline=False)
    assert manifest.credentials["c"].auth.kind == kind


def test_the_github_fetch_refuses_a_url_in_clear_without_asking(tmp_path: Path) -> None:
    session = FakeSession([])
    source = GitHubTokens("http://gh.example/idtoken?api-version=2.0", Secret(REQUEST_TOKEN), "api://A")
    with pytest.raises(FederatedTokenError) as info:
        source.get(cast(requests.Session, session))
    assert session.calls == []
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in info.value.message and REQUEST_TOKEN not in info.value.message


def test_the_provider_refuses_a_managed_identity_endpoint_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://identity.example.com/msi/token")
    credential = CredentialSpec(
        "c", "azure-key-vault", "https://v.vault.azure.net", None, None, None, True, line=1,
        auth=AuthSpec(MANAGED_IDENTITY),
    )  # fmt: skip
    refusal = keyless_errors.keyless_incomplete(credential)
    assert refusal is not None and refusal.diagnosis is Diagnosis.MANAGED_IDENTITY_UNAVAILABLE
    assert "IDENTITY_ENDPOINT" in str(refusal)


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: _fifo(p), "a FIFO (named pipe)"),
        (lambda p: p, "a directory"),
        (lambda p: Path("/dev/null"), "a character device"),
    ],
    ids=["fifo", "directory", "device"],
)
def test_a_token_file_that_is_not_a_regular_file_is_named_for_what_it_is(
    tmp_path: Path, make: Any, words: str
) -> None:
    path = make(tmp_path)
    manifest = load_offline(tmp_path, f"auth: workload-identity\nfederated_token_file: {path}\n")
    (warning,) = [w for w in manifest.warnings if "no federated token" in w]
    assert f"{path} is {words}, not a regular file" in warning and "no such file" not in warning
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: _catch(outcome, str(path)), daemon=True)
    reader.start()
    reader.join(timeout=5)  # a FIFO opened for reading would block here forever
    assert not reader.is_alive()
    (error,) = outcome
    assert isinstance(error, FederatedTokenError) and "not a regular file" in error.message


def load_offline(tmp_path: Path, credential: str, environ: dict[str, str] | None = None) -> Any:
    path = tmp_path / "baker.yaml"
    path.write_text(manifest_text(credential), encoding="utf-8")
    return load(path, environ={**IDS, **(environ or {})}, offline=True)


def _catch(outcome: list[BaseException], path: str) -> None:
    try:
        keyless._read_file(path)
    except BaseException as exc:
        outcome.append(exc)


def test_a_token_file_is_read_up_to_the_cap_and_refused_past_it(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("A" * FEDERATED_TOKEN_MAX, encoding="utf-8")
    assert keyless._read_file(str(path)) == "A" * FEDERATED_TOKEN_MAX
    path.write_text("A" * (FEDERATED_TOKEN_MAX + 1), encoding="utf-8")
    with pytest.raises(FederatedTokenError) as info:
        keyless._read_file(str(path))
    assert info.value.evidence == "token size" and f"{FEDERATED_TOKEN_MAX + 1} bytes" in info.value.message


def test_an_oversized_federated_token_variable_is_no_source(tmp_path: Path) -> None:
    environ = {"CI_TOKEN": "A" * (FEDERATED_TOKEN_MAX + 1)}
    manifest = load_offline(tmp_path, "auth: workload-identity\nfederated_token: ${CI_TOKEN}\n", environ)
    assert manifest.credentials["c"].auth.source is None
    (warning,) = [w for w in manifest.warnings if "no federated token" in w]
    assert f"{FEDERATED_TOKEN_MAX + 1} characters" in warning


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1700000000, 1700000000.0),
        (1700000000.5, 1700000000.5),
        (True, None),
        ("1700000000", None),
        (float("nan"), None),
        (float("inf"), None),
        (10**400, None),
        (-1, None),
        (253402300800, None),  # year 10000
    ],
)
def test_a_time_claim_is_a_finite_number_in_range_or_none(value: Any, expected: float | None) -> None:
    assert keyless._time_claim(value) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "repo:o/r:ref:refs/heads/x';touch${IFS}/tmp/pwned;'",
        'repo:o/r:ref:refs/heads/$(id)"`id`"',
        "repo:o/r:ref:refs/heads/a\nFORGED line",
        "s" * 5000,
    ],
    ids=["single-quote", "substitutions", "line-break", "huge"],
)
def test_the_suggested_command_is_one_quoted_command_with_capped_claims(subject: str) -> None:
    claims = {"iss": "https://issuer\x1b[2J", "sub": subject, "aud": ["api://AzureADTokenExchange"]}
    command = keyless_errors._create_command("app';id;'", claims)
    assert "\n" not in command and "\x1b" not in command
    words = shlex.split(command)
    assert words[:5] == ["az", "ad", "app", "federated-credential", "create"]
    assert words[5:8] == ["--id", "app';id;'", "--parameters"] and len(words) == 9
    presented = json.loads(words[8])["subject"]
    if len(subject) <= keyless_errors.CLAIM_MAX:
        assert presented == subject
    else:
        assert presented == subject[: keyless_errors.CLAIM_MAX] + "…(cut)"


def test_a_claim_shown_in_a_message_is_escaped_and_capped() -> None:
    shown = keyless_errors._shown("a\nFORGED\x1b[2J" + "x" * 5000)
    assert "\n" not in shown and "\x1b" not in shown and shown.endswith("…(cut)")
    assert len(shown) < keyless_errors.CLAIM_MAX + 50


@pytest.mark.parametrize(
    "subject",
    [
        "repo:o@1/r@2:ref:refs/heads/a\nFORGED\x1b[2J::warning::x" + "y" * 5000,
        "repo:o/r:ref:refs/heads/a\nFORGED\x1b[2J##vso[task.complete]" + "y" * 5000,
    ],
    ids=["immutable", "plain"],
)
def test_githubs_other_subject_form_is_escaped_and_capped_in_the_fix(subject: str) -> None:
    note = keyless_errors._github_subject_form(
        {"sub": subject, "repository_owner_id": "1\n::error::", "repository_id": "2"}
    )
    assert note is not None and "does not match it" in note
    assert "\n" not in note and "\x1b" not in note
    assert note.count("…(cut)") == 2 and len(note) < 2 * keyless_errors.CLAIM_MAX + 600
    assert "::error::" not in note  # an id claim that is not digits is a placeholder, not shown


def test_a_subject_in_neither_github_form_gets_no_form_note() -> None:
    assert keyless_errors._github_subject_form({"sub": "sc://org/project/connection"}) is None
    assert keyless_errors._github_subject_form({"sub": 7}) is None

"""Red-team reproductions for issue 12 (keyless sign-in): where tokens are sent, what a refusal's
evidence prints, and what a hostile or broken token source does to baker.

The emulator (keyless world), the unmodified azure-identity and baker's CLI, as the other keyless
tests use them; a loopback `Recorder` stands in for a plain-http proxy or endpoint and records what
reaches it.  Each test states what should hold (each was xfail(strict) until branch rt2fix fixed it)."""

from __future__ import annotations

import base64
import contextlib
import json
import shlex
import socket
import threading
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
import requests

from baker.cli import main
from baker.emulator import Emulator
from baker.providers.azure import keyless
from baker.providers.azure.keyless import FederatedTokenError, GitHubTokens
from baker.secret import Secret
from tests.integration.test_keyless_signin import (  # noqa: F401 - fixture
    WORKLOAD,
    keyless_manifest,
    no_client_secret,
)
from tests.support.fixtures_emulator import FEDERATED_APP, GITHUB_SUBJECT, SERVICE_CONNECTION
from tests.unit.test_providers_azure_keyless import Clock, FakeResponse, FakeSession

pytestmark = pytest.mark.emulator

CANARY = "CANARY-rt2-request-token-0123456789abcdef"


class Recorder:
    """A loopback listener that records each request's head and answers `answer` (a plain-http
    proxy or endpoint that is not baker's to trust)."""

    def __init__(self, answer: bytes) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
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
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.seen.append(data)
                conn.sendall(self._answer)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._sock.close()


def _json_answer(body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + payload


def _unsigned(claims: dict[str, Any]) -> str:
    """A JWT that the emulator's Entra parses (HS256, not `none`) but whose issuer no app trusts, so
    Entra answers AADSTS700211 and baker prints the claims it presented."""
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


def _raw_jwt(payload: str) -> str:
    def b64(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    header = b64('{"alg":"HS256","typ":"JWT"}')
    return f"{header}.{b64(payload)}.{b64('signature')}"


def _connect(manifest: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["test-connection", "-f", str(manifest), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- 1. request tokens over plain http to a host that is not loopback ------------------------------


@pytest.mark.parametrize("source", ["github", "azure-pipelines", "managed-identity"])
def test_a_request_token_never_travels_over_plain_http_to_a_non_loopback_host(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: str,
) -> None:
    emu = keyless_emulator
    if source == "github":
        recorder = Recorder(_json_answer({"value": emu.mint_id_token(GITHUB_SUBJECT, issuer="/github")}))
        monkeypatch.setenv(
            "ACTIONS_ID_TOKEN_REQUEST_URL", "http://token.actions.example.com/idtoken?api-version=2.0"
        )
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CANARY)
        credential: dict[str, Any] = WORKLOAD
    elif source == "azure-pipelines":
        recorder = Recorder(_json_answer({"oidcToken": "x"}))
        monkeypatch.setenv(
            "SYSTEM_OIDCREQUESTURI",
            "http://dev.example.com/org/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
        )
        monkeypatch.setenv("SYSTEM_ACCESSTOKEN", CANARY)
        credential = {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION}
    else:
        recorder = Recorder(_json_answer({"access_token": "x"}))
        monkeypatch.setenv("IDENTITY_ENDPOINT", "http://identity.example.com/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", CANARY)
        credential = {"auth": "managed-identity"}
    # A corporate proxy on the way: every plain-http request goes to it, in clear.
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{recorder.port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "localhost,.localhost,127.0.0.1")
    try:
        _connect(keyless_manifest(tmp_path, emu, credential), capsys)
    finally:
        recorder.close()
    assert not any(CANARY.encode() in request for request in recorder.seen), recorder.seen


# --- 2. the fix's `az` command quotes what the token presented -----------------------------------


def test_the_suggested_federated_credential_command_is_safe_to_paste_whatever_the_subject(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A legal git branch name (check-ref-format allows ' ; $ { } |); GitHub puts it in `sub`.
    subject = "repo:baker-org/app:ref:refs/heads/x';touch${IFS}/tmp/pwned;'"
    monkeypatch.setenv("CI_TOKEN", keyless_emulator.mint_id_token(subject, issuer="/github"))
    manifest = keyless_manifest(tmp_path, keyless_emulator, {**WORKLOAD, "federated_token": "${CI_TOKEN}"})
    code, out, _ = _connect(manifest, capsys, "--json")
    (result,) = json.loads(out)["credentials"]
    assert (code, result["code"]) == (1, "federated-identity-mismatch")
    command = next(
        line[line.index("az ad app") :] for line in result["fix"].splitlines() if "az ad app" in line
    )
    words = shlex.split(command)
    assert words[:6] == ["az", "ad", "app", "federated-credential", "create", "--id"]
    assert words[6] == FEDERATED_APP and words[7] == "--parameters" and len(words) == 9, words
    assert json.loads(words[8])["subject"] == subject


# --- 3. claims printed with their line breaks ---------------------------------------------------


def test_claims_a_refused_token_presented_never_start_a_line_of_their_own(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forged = "FORGED credential c0 ok; pushed registry.example.com/app:prod"
    token = _unsigned(
        {"iss": f"https://issuer.example\n{forged}", "sub": f"s\n{forged}", "aud": "a", "exp": 4102444800}
    )
    monkeypatch.setenv("CI_TOKEN", token)
    manifest = keyless_manifest(tmp_path, keyless_emulator, {**WORKLOAD, "federated_token": "${CI_TOKEN}"})
    code, out, err = _connect(manifest, capsys)
    assert code == 1 and "federated-identity-mismatch" in out
    lines = (out + err).splitlines()
    assert not [line for line in lines if line.startswith("FORGED")], lines


# --- 4. hostile numbers and shapes: an internal error instead of the diagnosis -------------------


@pytest.mark.parametrize("exp", [10**30, -(10**30)], ids=["far-future", "far-past"])
def test_a_refused_token_with_an_out_of_range_exp_still_gets_its_diagnosis(
    tmp_path: Path,
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exp: int,
) -> None:
    monkeypatch.setenv(
        "CI_TOKEN", _unsigned({"iss": "https://issuer.example", "sub": "s", "aud": "a", "exp": exp})
    )
    manifest = keyless_manifest(tmp_path, keyless_emulator, {**WORKLOAD, "federated_token": "${CI_TOKEN}"})
    code, out, err = _connect(manifest, capsys, "--json")
    assert "InternalError" not in out and "internal error" not in err
    (result,) = json.loads(out)["credentials"]
    assert (code, result["code"], result["evidence"]) == (1, "federated-identity-mismatch", "AADSTS700211")


_HUGE = "9" * 400


@pytest.mark.parametrize(
    "body",
    [
        [1],
        "a string",
        {"value": _raw_jwt('{"iss":"i","sub":"s","aud":"a","exp":' + _HUGE + "}")},
        {"value": _raw_jwt('{"iss":"i","sub":"s","aud":"a","exp":2000,"iat":' + _HUGE + "}")},
    ],
    ids=["list", "string", "huge-exp", "huge-iat"],
)
def test_a_hostile_id_token_answer_is_a_federated_token_error_never_a_crash(body: Any) -> None:
    session = FakeSession([FakeResponse(200, body)])
    source = GitHubTokens(
        "https://gh.example/idtoken?api-version=2.0", Secret(CANARY), "api://A", Clock(1000.0)
    )
    with contextlib.suppress(FederatedTokenError):  # a refusal, or a token: either is fine
        source.get(cast(requests.Session, session))


@pytest.mark.parametrize("exp", ["NaN", "Infinity"])
def test_a_token_with_a_non_finite_exp_is_fetched_again(exp: str) -> None:
    token = _raw_jwt('{"iss":"i","sub":"s","aud":"a","exp":' + exp + "}")
    session = FakeSession([FakeResponse(200, {"value": token}), FakeResponse(200, {"value": token})])
    clock = Clock(1000.0)
    source = GitHubTokens("https://gh.example/idtoken?api-version=2.0", Secret(CANARY), "api://A", clock)
    source.get(cast(requests.Session, session))
    clock.now = 1000.0 + 365 * 86400  # a year later
    source.get(cast(requests.Session, session))
    assert len(session.calls) == 2


# --- 5. unbounded token size --------------------------------------------------------------------

_BIG = 1 << 20  # 1 MiB: real federated tokens are a few KiB


@pytest.mark.parametrize("source", ["file", "github"])
def test_an_oversized_federated_token_is_refused(tmp_path: Path, source: str) -> None:
    big = "A" * _BIG
    if source == "file":
        path = tmp_path / "token"
        path.write_text(big, encoding="utf-8")
        with pytest.raises(FederatedTokenError):
            keyless._read_file(str(path))
    else:
        session = FakeSession([FakeResponse(200, {"value": big})])
        source_ = GitHubTokens(
            "https://gh.example/idtoken?api-version=2.0", Secret(CANARY), "api://A", Clock(0)
        )
        with pytest.raises(FederatedTokenError):
            source_.get(cast(requests.Session, session))

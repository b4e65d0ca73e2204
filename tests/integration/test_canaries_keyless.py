"""Canaries for keyless sign-in: no token of any kind -- GitHub's request token, Azure Pipelines'
SYSTEM_ACCESSTOKEN, the managed identity's IDENTITY_HEADER, a federated token, an access token -- and
no value in any output, at any verbosity, on success and on failure.

Any JWT (`eyJ...`: a federated or access token) in the output is a leak, whichever it is; the request
tokens and headers are planted canaries, or the emulator's own values scanned for.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_canaries import VERBOSITIES, _forms, _run
from tests.integration.test_keyless_signin import (  # noqa: F401 - fixture
    K8S_SUBJECT,
    WORKLOAD,
    keyless_manifest,
    no_client_secret,
    set_env,
)
from tests.support.fixtures_emulator import KEYLESS_VALUE, SERVICE_CONNECTION

pytestmark = pytest.mark.emulator

JWT_START = "eyJ"  # base64url of '{"': every JWT's header starts so
CANARY_REQUEST_TOKEN = "CANARY-request-token-5d1e7a"
CANARY_ACCESS_TOKEN = "CANARY-system-accesstoken-9b2c4f"
CANARY_IDENTITY_HEADER = "CANARY-identity-header-3a8e6d"


def _leaks(text: str, needles: set[str]) -> list[str]:
    found = sorted(n for n in needles if n in text)
    return found + ([JWT_START] if JWT_START in text else [])


Setup = Callable[[Emulator, pytest.MonkeyPatch, Path], tuple[dict[str, Any], set[str]]]


def github(emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[dict[str, Any], set[str]]:
    env = emu.github_actions_env()
    set_env(monkeypatch, env)
    return WORKLOAD, {env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]}


def token_file(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], set[str]]:
    token = emu.mint_id_token(K8S_SUBJECT)
    path = tmp_path / "token"
    path.write_text(token, encoding="utf-8")
    return {**WORKLOAD, "federated_token_file": str(path)}, {token}


def pipelines(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], set[str]]:
    env = emu.azure_pipelines_env()
    set_env(monkeypatch, env)
    return {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION}, {env["SYSTEM_ACCESSTOKEN"]}


def variable(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], set[str]]:
    token = emu.mint_id_token(K8S_SUBJECT)
    monkeypatch.setenv("CI_TOKEN", token)
    return {**WORKLOAD, "federated_token": "${CI_TOKEN}"}, {token}


def managed(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], set[str]]:
    env = emu.managed_identity_env()
    set_env(monkeypatch, env)
    return {"auth": "managed-identity"}, {env["IDENTITY_HEADER"]}


SOURCES: dict[str, Setup] = {
    "github": github,
    "token-file": token_file,
    "pipelines": pipelines,
    "variable": variable,
    "managed-identity": managed,
}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_no_keyless_command_prints_a_token_or_a_value(
    source: str,
    verbosity: list[str],
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credential, planted = SOURCES[source](keyless_emulator, monkeypatch, tmp_path)
    needles = set().union(*(_forms(p) for p in planted), _forms(KEYLESS_VALUE))
    manifest = str(keyless_manifest(tmp_path, keyless_emulator, credential))
    runs = {
        "validate": ["validate", "-f", manifest],
        "plan": ["plan", "-f", manifest],
        "render": ["render", "-f", manifest, "--out", str(tmp_path / "rendered")],
        "test-connection": ["test-connection", "-f", manifest],
        "secrets list": ["secrets", "list", "c0", "-f", manifest],
    }
    leaks: dict[str, list[str]] = {}
    codes: dict[str, int] = {}
    for name, args in runs.items():
        codes[name], text = _run(capfd, [*args, *verbosity])
        if _leaks(text, needles):
            leaks[name] = _leaks(text, needles)
    assert leaks == {}
    assert set(codes.values()) == {0}, codes


@pytest.mark.docker
@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_a_keyless_build_and_check_print_no_token(
    verbosity: list[str],
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    busybox_base: str,
    docker_client: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credential, planted = github(keyless_emulator, monkeypatch, tmp_path)
    needles = set().union(*(_forms(p) for p in planted), _forms(KEYLESS_VALUE))
    manifest = keyless_manifest(tmp_path, keyless_emulator, credential, base=busybox_base)
    tag = f"baker-test/canary-keyless:{os.getpid()}-{len(verbosity)}-{'j' if '--json' in verbosity else 'h'}"
    leaks: dict[str, list[str]] = {}
    codes: dict[str, int] = {}
    try:
        for name, args in {
            "build": ["build", "-f", str(manifest), "--tag", tag],
            "check": ["check", "-f", str(manifest), "--image", tag],
        }.items():
            codes[name], text = _run(capfd, [*args, *verbosity])
            if _leaks(text, needles):
                leaks[name] = _leaks(text, needles)
    finally:
        with contextlib.suppress(Exception):  # best-effort cleanup of a test image
            docker_client.images.remove(tag, force=True)
    assert leaks == {}
    assert codes == {"build": 0, "check": 0}


def wrong_request_token(
    emu: Emulator, mp: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], set[str]]:
    set_env(mp, {**emu.github_actions_env(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": CANARY_REQUEST_TOKEN})
    return WORKLOAD, {CANARY_REQUEST_TOKEN}


def wrong_access_token(
    emu: Emulator, mp: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], set[str]]:
    set_env(mp, {**emu.azure_pipelines_env(), "SYSTEM_ACCESSTOKEN": CANARY_ACCESS_TOKEN})
    return {**WORKLOAD, "service_connection_id": SERVICE_CONNECTION}, {CANARY_ACCESS_TOKEN}


def wrong_identity_header(
    emu: Emulator, mp: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], set[str]]:
    set_env(mp, {**emu.managed_identity_env(), "IDENTITY_HEADER": CANARY_IDENTITY_HEADER})
    return {"auth": "managed-identity"}, {CANARY_IDENTITY_HEADER}


def expired_token(emu: Emulator, mp: pytest.MonkeyPatch, tmp_path: Path) -> tuple[dict[str, Any], set[str]]:
    token = emu.mint_id_token(K8S_SUBJECT, expires=time.time() - 60)
    mp.setenv("CI_TOKEN", token)
    return {**WORKLOAD, "federated_token": "${CI_TOKEN}"}, {token}


def mismatched_token(
    emu: Emulator, mp: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], set[str]]:
    token = emu.mint_id_token("system:serviceaccount:other:app")
    mp.setenv("CI_TOKEN", token)
    return {**WORKLOAD, "federated_token": "${CI_TOKEN}"}, {token}


FAILURES: dict[str, tuple[Setup, str]] = {
    "wrong request token": (wrong_request_token, "no-federated-token"),
    "wrong system access token": (wrong_access_token, "no-federated-token"),
    "wrong identity header": (wrong_identity_header, "managed-identity-unavailable"),
    "expired federated token": (expired_token, "federated-token-expired"),
    "mismatched federated token": (mismatched_token, "federated-identity-mismatch"),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_keyless_failures_name_the_problem_without_printing_a_token(
    failure: str,
    verbosity: list[str],
    keyless_emulator: Emulator,
    no_client_secret: None,  # noqa: F811
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup, code = FAILURES[failure]
    credential, planted = setup(keyless_emulator, monkeypatch, tmp_path)
    needles = set().union(*(_forms(p) for p in planted), _forms(KEYLESS_VALUE))
    manifest = str(keyless_manifest(tmp_path, keyless_emulator, credential))
    for args in (
        ["test-connection", "-f", manifest],
        ["render", "-f", manifest, "--out", str(tmp_path / "rendered")],
    ):
        exit_code, text = _run(capfd, [*args, *verbosity])
        assert exit_code == 1, text
        assert code in text
        assert _leaks(text, needles) == [], (args[0], text)

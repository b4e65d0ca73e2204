"""Canaries for registry credential helpers (issue 9, K): a Docker credential helper is a program
baker runs, and it must not inherit baker's credentials.  A real helper written into tmp_path and
put on PATH dumps the environment it was given; baker's client secret, federated-token variables
and every variable whose value the Redactor knows are absent from it, at every verbosity, while
the rest of the environment (PATH, HOME, the user's own variables) still reaches it."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.image import dockerconfig, engine
from baker.image.registry import read as registry
from baker.secret import REDACTOR
from tests.integration.test_canaries import (
    CLIENT_SECRET,
    VERBOSITIES,
    _leaks,
    _manifest,
    _run,
    canary_emulator,
)
from tests.support.registry import TokenRegistry, token_registry

__all__ = ["canary_emulator", "token_registry"]  # the fixtures, imported to be used here

HELPER = "bakerenvdump"
SHARED_SECRET = "CANARY-shared-client-secret-0c9b"  # what a manifest's ${SHARED_CLIENT_SECRET} holds
TOKEN_FILE = "/var/run/secrets/CANARY-federated-token-path"
KEPT = "CANARY-NOT-A-SECRET-kept-for-the-helper"

_SCRIPT = """\
#!{python}
import json, os, pathlib, sys
server = sys.stdin.read().strip()
with pathlib.Path({dump!r}).open("a") as out:
    out.write(json.dumps(dict(os.environ)) + "\\n")
if sys.argv[1] != "get":
    sys.exit(1)
print(json.dumps({{"ServerURL": server, "Username": {user!r}, "Secret": {password!r}}}))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`docker-credential-bakerenvdump` on PATH, named by the docker config for every registry; it
    answers with the token registry's login.  Returns the file it appends its environment to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dump = tmp_path / "helper-env.jsonl"
    script = bin_dir / f"docker-credential-{HELPER}"
    script.write_text(
        _SCRIPT.format(
            python=sys.executable, dump=str(dump), user=TokenRegistry.user, password=TokenRegistry.password
        ),
        encoding="utf-8",
    )
    script.chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credsStore": HELPER}), encoding="utf-8")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", TOKEN_FILE)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "CANARY-actions-request-token-77")
    monkeypatch.setenv("SHARED_CLIENT_SECRET", SHARED_SECRET)
    monkeypatch.setenv("USER_OWN_SETTING", KEPT)
    return dump


def _environments(dump: Path) -> list[dict[str, str]]:
    assert dump.exists(), "the credential helper was never run"
    return [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]


def _secret_free(environment: dict[str, str]) -> None:
    text = json.dumps(environment)
    for needle in (CLIENT_SECRET, SHARED_SECRET, TOKEN_FILE, "CANARY-actions-request-token-77"):
        assert needle not in text
    assert _leaks(text) == []
    assert environment.get("USER_OWN_SETTING") == KEPT and environment.get("PATH")


def test_a_credential_helper_runs_without_the_client_secret_or_any_registered_value(
    helper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    REDACTOR.register(SHARED_SECRET, label="client secret of credential shared")
    _, user, password, _ = dockerconfig.registry_login("registry.example.com")
    assert (user, password) == (TokenRegistry.user, TokenRegistry.password)  # the helper still works
    (environment,) = _environments(helper)
    _secret_free(environment)


def test_the_engine_clients_credential_helpers_run_without_bakers_credentials(
    helper: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any
) -> None:
    """docker-py runs the same helpers for a pull, a build or a push by the engine client."""
    import docker.auth

    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    REDACTOR.register(SHARED_SECRET, label="client secret of credential shared")
    client = engine.connect()
    try:
        assert docker.auth.get_config_header(client.api, "registry.example.com")
    finally:
        client.close()
    for environment in _environments(helper):
        _secret_free(environment)


@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_check_through_a_credential_helper_gives_it_no_secret_and_prints_none(
    verbosity: list[str],
    helper: Path,
    canary_emulator: Emulator,
    token_registry: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_architecture", lambda: "amd64")
    # The manifest's credential reads its secret from a variable of its own choosing: only the
    # Redactor (which the manifest loader teaches) can tell the helper's environment to drop it.
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    monkeypatch.delenv("SHARED_CLIENT_SECRET")
    monkeypatch.setenv("CANARY_MANIFEST_SECRET", CLIENT_SECRET)
    path = _manifest(tmp_path / "baker.yaml", canary_emulator, "busybox:1.36", "unused:1")
    path.write_text(path.read_text().replace("${AZURE_CLIENT_SECRET}", "${CANARY_MANIFEST_SECRET}"))
    manifest = str(path)
    code, text = _run(
        capfd, ["check", "-f", manifest, "--image", f"{token_registry}/team/app:baked", *verbosity]
    )
    assert code == 3, text  # read from the registry: the image holds none of the manifest's secrets
    assert _leaks(text) == [] and TokenRegistry.password not in text
    for environment in _environments(helper):
        _secret_free(environment)

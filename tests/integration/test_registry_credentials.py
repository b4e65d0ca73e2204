"""`baker check` reads registry credentials as Docker does, against a loopback registry that demands
Bearer tokens (`token_registry`) and real credential-helper programs written into tmp_path and put
on PATH: `credsStore`, `credHelpers` over `auths`, identity tokens (the OAuth2 refresh-token grant),
and a helper with nothing (or failing, or missing) falling back to anonymous with a `docker login`
hint.  Neither the helper's secret nor the identity token ever reaches the output, at --debug."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.errors import ImageError
from baker.image.registry import read as registry
from baker.secret import REDACTOR
from tests.support.manifests import write_manifest
from tests.support.registry import TokenRegistry, token_registry

__all__ = ["token_registry"]  # the fixture, imported to be used here

HELPER = "bakertest"
CANARIES = (TokenRegistry.password, TokenRegistry.refresh_token, "helper-said-C4n4ry")
WRONG = base64.b64encode(f"{TokenRegistry.user}:wrong-password-C4n4ry".encode()).decode()

_SCRIPT = """\
#!{python}
# A docker credential helper (docker/docker-credential-helpers protocol): `get` reads the server URL
# on stdin and answers {{"ServerURL", "Username", "Secret"}}, or exits 1 when it has none.
import json, pathlib, sys
answers = json.loads({answers!r})
server = sys.stdin.read().strip()
pathlib.Path({asked!r}).open("a").write(sys.argv[1] + " " + server + "\\n")
if sys.argv[1] != "get" or server not in answers:
    print({missing!r})
    sys.exit({code})
user, secret = answers[server]
print(json.dumps({{"ServerURL": server, "Username": user, "Secret": secret}}))
"""


class World:
    """A docker config dir, a bin dir on PATH for helpers, and `baker check` run in-process."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, capsys: Any) -> None:
        self.tmp, self.host, self.capsys = tmp_path, host, capsys
        self.ref = f"{host}/team/app:baked"
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.asked = tmp_path / "asked.log"
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
        monkeypatch.setattr(registry, "_architecture", lambda: "amd64")
        self.manifest = write_manifest(
            tmp_path / "baker.yaml", base="busybox:1.36", tag="app:baked", env={"A": "x"}
        )
        TokenRegistry.grants.clear()

    def config(self, document: dict[str, Any]) -> None:
        (self.tmp / "docker").mkdir(exist_ok=True)
        (self.tmp / "docker" / "config.json").write_text(json.dumps(document), encoding="utf-8")

    def helper(
        self,
        answers: dict[str, tuple[str, str]],
        *,
        name: str = HELPER,
        missing: str = "credentials not found in native keychain",
        code: int = 1,
    ) -> None:
        path = self.bin / f"docker-credential-{name}"
        path.write_text(
            _SCRIPT.format(
                python=sys.executable,
                answers=json.dumps(answers),
                asked=str(self.asked),
                missing=missing,
                code=code,
            ),
            encoding="utf-8",
        )
        path.chmod(stat.S_IRWXU)

    def asked_for(self) -> list[str]:
        return self.asked.read_text().splitlines() if self.asked.exists() else []

    def check(self, *extra: str) -> tuple[int, str, str]:
        """`baker check` at --debug; no canary in stdout or stderr, whatever the outcome."""
        code = main(["check", "--image", self.ref, "-f", str(self.manifest), "--debug", *extra])
        captured = self.capsys.readouterr()
        for canary in CANARIES:
            assert canary not in captured.out and canary not in captured.err, "a credential was printed"
        return code, captured.out, captured.err


@pytest.fixture
def world(
    token_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> World:
    return World(tmp_path, monkeypatch, token_registry, capsys)


def _refused(world: World) -> ImageError:
    with pytest.raises(ImageError) as info:
        registry.fetch_config(world.ref)
    error = info.value
    for canary in CANARIES:
        assert canary not in error.message and canary not in (error.hint or "")
    assert error.__cause__ is None
    return error


def test_check_reads_the_labels_with_the_credsstore_helper_when_the_config_names_one(world: World) -> None:
    world.config({"credsStore": HELPER})
    world.helper({world.host: (TokenRegistry.user, TokenRegistry.password)})
    code, out, _ = world.check()
    assert code == 0
    assert "read from the registry" in out and "up to date" in out
    assert TokenRegistry.grants == ["basic"]
    assert world.asked_for() == [f"get {world.host}"]  # the protocol: the host on stdin, no shell
    assert REDACTOR.redact(TokenRegistry.password) != TokenRegistry.password, "not registered"


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            {"credHelpers": {"{host}": HELPER}, "auths": {"{host}": {"auth": WRONG}}}, id="over-auths"
        ),
        pytest.param({"credHelpers": {"{host}": HELPER}, "credsStore": "nosuchhelper"}, id="over-credsStore"),
    ],
)
def test_check_asks_the_credhelpers_entry_for_the_host_first_when_there_is_one(
    world: World, document: dict[str, Any]
) -> None:
    world.config(json.loads(json.dumps(document).replace("{host}", world.host)))
    world.helper({world.host: (TokenRegistry.user, TokenRegistry.password)})
    code, out, _ = world.check("--json")
    assert code == 0 and json.loads(out)["stale"] is False
    assert TokenRegistry.grants == ["basic"]
    assert world.asked_for() == [f"get {world.host}"]


def test_check_falls_back_to_auths_when_the_helper_has_no_entry_for_the_host(world: World) -> None:
    auth = base64.b64encode(f"{TokenRegistry.user}:{TokenRegistry.password}".encode()).decode()
    world.config({"credsStore": HELPER, "auths": {f"http://{world.host}/v2/": {"auth": auth}}})
    world.helper({"other.example.com": ("x", "y")})
    assert world.check()[0] == 0
    assert world.asked_for() == [f"get {world.host}"] and TokenRegistry.grants == ["basic"]


@pytest.mark.parametrize("source", ["auths-identitytoken", "helper-token-user"])
def test_check_uses_the_oauth2_refresh_token_grant_when_the_login_is_an_identity_token(
    world: World, source: str
) -> None:
    if source == "auths-identitytoken":  # what `az acr login` writes
        world.config({"auths": {world.host: {"identitytoken": TokenRegistry.refresh_token}}})
    else:  # a helper answering Username "<token>": Secret is the identity token
        world.config({"credHelpers": {world.host: HELPER}})
        world.helper({world.host: ("<token>", TokenRegistry.refresh_token)})
    code, out, _ = world.check()
    assert code == 0 and "up to date" in out
    assert TokenRegistry.grants == ["refresh_token"]
    assert REDACTOR.redact(TokenRegistry.refresh_token) != TokenRegistry.refresh_token, "not registered"


def test_registry_refuses_with_the_login_hint_when_the_identity_token_is_not_accepted(world: World) -> None:
    world.config({"auths": {world.host: {"identitytoken": "expired-identity-token-C4n4ry"}}})
    error = _refused(world)
    assert "expired-identity-token-C4n4ry" not in error.message
    assert TokenRegistry.grants == ["refused"]
    assert f"docker login {world.host}" in (error.hint or "")


@pytest.mark.parametrize(
    ("install", "missing", "exit_code"),
    [
        pytest.param(True, "credentials not found in native keychain", 1, id="not-found"),
        pytest.param(True, "helper-said-C4n4ry: keychain locked", 2, id="fails"),
        pytest.param(False, "", 1, id="not-installed"),
    ],
)
def test_check_goes_anonymous_and_is_refused_with_a_hint_naming_the_helper_when_it_gives_nothing(
    world: World, install: bool, missing: str, exit_code: int
) -> None:
    world.config({"credsStore": HELPER})
    if install:
        world.helper({"other.example.com": ("x", "y")}, missing=missing, code=exit_code)
    error = _refused(world)
    assert f"docker login {world.host}" in (error.hint or "")
    assert f"docker-credential-{HELPER}" in (error.hint or "")
    assert f"no credentials for it from docker-credential-{HELPER}" in error.message
    assert "helper-said" not in error.message + (error.hint or "")
    assert TokenRegistry.grants == ["refused"]  # anonymous: no Basic header on the token request
    assert world.asked_for() == ([f"get {world.host}"] if install else [])

    TokenRegistry.grants.clear()
    code, out, err = world.check()
    assert code == 1 and out == ""
    assert "refused access" in err and f"docker login {world.host}" in err
    assert f"docker-credential-{HELPER}" in err
    assert "not installed or not available" not in err  # docker-py's warning stays quiet
    code, out, _ = world.check("--json")
    assert code == 1 and json.loads(out)["error"] == "ImageError"

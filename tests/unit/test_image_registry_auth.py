"""Reading registry credentials from a docker config as Docker does (no helper programs, no network:
those are in tests/integration/test_registry_credentials.py), and the pure parts of the token dance."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from baker.image.dockerconfig import registry_login
from baker.image.registry import auth as registry_auth
from baker.image.registry.read import Login, login_for
from baker.image.registry.refs import ImageRef
from baker.secret import MASK, REDACTOR, Secret

HOST = "registry.example.com"
PASSWORD = "pw-C4n4ry-unit-1"
TOKEN = "identity-C4n4ry-unit-2"


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.docker fallback from the machine

    def write(document: Any) -> None:
        text = document if isinstance(document, str) else json.dumps(document)
        (tmp_path / "config.json").write_text(text, encoding="utf-8")

    return write


@pytest.mark.parametrize(
    ("document", "registry_name", "expected"),
    [
        ({"auths": {HOST: {"auth": _auth("u", PASSWORD)}}}, HOST, ("", "u", PASSWORD, "")),
        ({"auths": {f"https://{HOST}/v2/": {"auth": _auth("u", PASSWORD)}}}, HOST, ("", "u", PASSWORD, "")),
        (
            {"auths": {"localhost:5000": {"auth": _auth("u", PASSWORD)}}},
            "localhost:5000",
            ("", "u", PASSWORD, ""),
        ),
        ({"auths": {"localhost:5000": {"auth": _auth("u", PASSWORD)}}}, "localhost:5001", ("", "", "", "")),
        # Docker Hub: `docker login` writes the v1 index URL; every Hub name finds it.
        (
            {"auths": {"https://index.docker.io/v1/": {"auth": _auth("u", PASSWORD)}}},
            "docker.io",
            ("", "u", PASSWORD, ""),
        ),
        (
            {"auths": {"index.docker.io": {"auth": _auth("u", PASSWORD)}}},
            "docker.io",
            ("", "u", PASSWORD, ""),
        ),
        # What `az acr login` writes: the identity token wins over anything else in the entry.
        (
            {
                "auths": {
                    HOST: {"auth": _auth("00000000-0000-0000-0000-000000000000", ""), "identitytoken": TOKEN}
                }
            },
            HOST,
            ("", "", "", TOKEN),
        ),
        ({"auths": {HOST: {}}}, HOST, ("", "", "", "")),  # credentials live in a store
        ({"auths": {HOST: {"auth": "not base64!"}}}, HOST, ("", "", "", "")),
        ({"auths": {HOST: {"auth": base64.b64encode(b"no-colon").decode()}}}, HOST, ("", "", "", "")),
        ({"auths": [HOST]}, HOST, ("", "", "", "")),
        ("{not json", HOST, ("", "", "", "")),
        ({}, HOST, ("", "", "", "")),
        # A helper that is not installed: named (for the hint), no credentials, no error.
        ({"credsStore": "nosuchhelper-unit"}, HOST, ("nosuchhelper-unit", "", "", "")),
        (
            {"credHelpers": {HOST: "nosuchhelper-unit"}, "auths": {HOST: {"auth": _auth("u", PASSWORD)}}},
            HOST,
            ("nosuchhelper-unit", "", "", ""),
        ),
        (
            {
                "credHelpers": {"other.example.com": "nosuchhelper-unit"},
                "auths": {HOST: {"auth": _auth("u", PASSWORD)}},
            },
            HOST,
            ("", "u", PASSWORD, ""),
        ),
    ],
)
def test_registry_login_follows_dockers_lookup_rules_when_reading_the_config(
    docker_config: Any, document: Any, registry_name: str, expected: tuple[str, str, str, str]
) -> None:
    docker_config(document)
    assert registry_login(registry_name) == expected


def test_registry_login_registers_passwords_and_identity_tokens_when_it_reads_them(
    docker_config: Any,
) -> None:
    docker_config(
        {"auths": {HOST: {"auth": _auth("u", PASSWORD)}, "b.example.com": {"identitytoken": TOKEN}}}
    )
    registry_login(HOST)
    registry_login("b.example.com")
    assert REDACTOR.redact(f"x {PASSWORD} {TOKEN} y") == f"x {MASK} {MASK} y"


@pytest.mark.parametrize("host", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_login_for_finds_the_docker_hub_login_when_the_image_names_any_hub_host(
    docker_config: Any, host: str
) -> None:
    docker_config({"auths": {"https://index.docker.io/v1/": {"auth": _auth("hubuser", PASSWORD)}}})
    login = login_for(host)
    assert (login.user, login.found) == ("hubuser", True)
    assert login.basic == "Basic " + _auth("hubuser", PASSWORD)


@pytest.mark.parametrize(
    ("login", "basic", "found"),
    [
        (Login(user="u", password=Secret(PASSWORD)), "Basic " + _auth("u", PASSWORD), True),
        (Login(user="", password=Secret(PASSWORD)), None, False),
        (Login(identity_token=Secret(TOKEN)), None, True),
        (Login(helper="desktop"), None, False),
    ],
)
def test_login_gives_basic_auth_only_when_it_has_a_user_and_a_password(
    login: Login, basic: str | None, found: bool
) -> None:
    assert (login.basic, login.found) == (basic, found)
    assert PASSWORD not in repr(login) and TOKEN not in repr(login)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"',
            (
                "bearer",
                {
                    "realm": "https://auth.example.com/token",
                    "service": "registry.example.com",
                    "scope": "repository:a/b:pull",
                },
            ),
        ),
        ('Basic realm="Registry Realm"', ("basic", {"realm": "Registry Realm"})),
        ("", ("", {})),
        # RFC 7235: names are case-insensitive, values a token or a quoted string with escapes.
        (
            'Bearer Realm = "a\\"b" ,, error=insufficient_scope',
            ("bearer", {"realm": 'a"b', "error": "insufficient_scope"}),
        ),
        (
            'Bearer scope="repository:a/b:pull,push",realm="r"',
            ("bearer", {"scope": "repository:a/b:pull,push", "realm": "r"}),
        ),
        ('Bearer junk, realm="r", realm="last"', ("bearer", {"realm": "last"})),
        ('Bearer realm="r", service="unterminated', ("bearer", {"realm": "r"})),
    ],
)
def test_challenge_is_parsed_into_scheme_and_parameters(
    header: str, expected: tuple[str, dict[str, str]]
) -> None:
    assert registry_auth.challenge(header) == expected


class _Answer:
    """A token realm's answer, as much of `requests.Response` as the token dance reads."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code
        self.body = body
        self.headers: dict[str, str] = {}

    def close(self) -> None:
        pass


class _Asking:
    """Only what `auth.Asking` names: no session, no deadline, no `RegistryClient`."""

    def __init__(self, answer: _Answer) -> None:
        self.ref = ImageRef(HOST, "team/app", "baked")
        self.login = Login(user="robot", password=Secret(PASSWORD))
        self.push = True
        self.delete = False
        self.pull_from: tuple[str, ...] = ("team/base",)
        self.answer = answer
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def http(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent.append((method, url, kwargs))
        return self.answer

    def read_json(self, response: Any, what: str, limit: int) -> dict[str, Any]:
        assert what == "token" and limit == registry_auth.TOKEN_MAX
        body: dict[str, Any] = response.body
        return body


def test_the_token_dance_needs_of_its_client_only_the_narrow_asking_protocol() -> None:
    """`auth.authenticate` is given what it asks through (`auth.Asking`), not the `RegistryClient`
    that calls it: a stand-in with those six members buys a push token, one scope per repository."""
    asking = _Asking(_Answer(200, {"token": "opaque-registry-token-123"}))
    challenge: Any = _Answer(401, {})  # as much of a `requests.Response` as is read
    challenge.headers["WWW-Authenticate"] = f'Bearer realm="https://{HOST}/token",service="{HOST}"'

    header = registry_auth.authenticate(asking, challenge)

    assert header == "Bearer opaque-registry-token-123"
    [(method, url, sent)] = asking.sent
    assert (method, url) == ("GET", f"https://{HOST}/token")
    assert sent["params"]["scope"] == ["repository:team/app:pull,push", "repository:team/base:pull"]
    assert sent["headers"] == {"Authorization": "Basic " + _auth("robot", PASSWORD)}


@pytest.mark.parametrize("rest", ["a" * 8000, "a=," * 2700, '"' * 8000, "<" * 8000, 'a="' + "b" * 8000])
def test_a_challenge_is_read_in_one_pass_whatever_its_shape(rest: str) -> None:
    started = time.monotonic()
    for _ in range(10):
        registry_auth.challenge("Bearer " + rest)
    assert time.monotonic() - started < 2.0  # the old pattern took seconds for one of 8,000 characters

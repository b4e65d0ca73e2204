"""`baker build`'s usage errors come before any engine or vault is contacted, and a push is refused
before anything is built when a registry would not take it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from baker import pipeline
from baker.cli import main
from baker.errors import BakeStopped, EngineError, ImageError, PushIncomplete, RenderError
from baker.image import engine
from baker.image.bake import _layer_count, bake
from baker.image.registry import auth as registry_auth
from baker.image.registry import client as registry_client
from baker.image.registry import read as registry
from baker.model import ImageSpec, Manifest
from baker.resolver import ResolvedEnv
from baker.secret import Secret
from tests.support.manifests import write_manifest


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--push"], "--push needs a tag"),
        (["--if-stale"], "--if-stale needs a tag to compare with"),
        (["--tag", "Not A Tag"], "not a valid image name"),
    ],
)
def test_build_is_refused_before_any_network_when_usage_is_wrong(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # any engine call would fail
    manifest = write_manifest(
        tmp_path / "baker.yaml", image={"from": "baker-test/busybox:1"}, env={"A": "value-a"}
    )
    code = main(["build", "-f", str(manifest), *flags, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert message in document["message"]
    assert code == 2


# -- before a push: the registry must take it (a fake at the HTTP seam) ------------------------------


@pytest.mark.parametrize(
    ("name", "api_root", "repository"),
    [
        ("app:1", "https://registry-1.docker.io/v2/", "library/app"),
        ("team/app", "https://registry-1.docker.io/v2/", "team/app"),
        ("docker.io/app:1", "https://registry-1.docker.io/v2/", "library/app"),
        ("index.docker.io/team/app:2", "https://registry-1.docker.io/v2/", "team/app"),
        ("localhost/app", "http://localhost/v2/", "app"),
        ("localhost:5000/team/app:3", "http://localhost:5000/v2/", "team/app"),
        ("127.0.0.1:5000/app", "http://127.0.0.1:5000/v2/", "app"),
        ("registry.example.com/app:1", "https://registry.example.com/v2/", "app"),
        ("registry.example.com:8443/a/b/c:1", "https://registry.example.com:8443/v2/", "a/b/c"),
    ],
)
def test_push_target_follows_dockers_rule_and_sends_docker_hub_to_registry_1(
    name: str, api_root: str, repository: str
) -> None:
    target = registry.push_target(name)
    assert (target.api_root, target.repository) == (api_root, repository)


HOST = "registry.example.com"
REALM = "https://auth.example.com/token"


def _response(
    status: int, *, challenge: str = "", body: object = None, location: str = ""
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if challenge:
        response.headers["WWW-Authenticate"] = challenge
    if location:
        response.headers["Location"] = location
    response._content = json.dumps(body if body is not None else {}).encode()
    response._content_consumed = True  # type: ignore[attr-defined]
    return response


def _jwt(access: list[dict[str, object]]) -> str:
    def part(document: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'access': access})}.signature"


class FakeRegistry:
    """Answers `/v2/` by the script, and the token realm with `token_status` / `token`."""

    def __init__(self, v2: list[Any], token_status: int = 200, token: str = "") -> None:
        self.v2 = v2
        self.token_status = token_status
        self.token = token
        self.calls: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.upload_status = 202
        self.cancelled: list[str] = []

    def session(self) -> Any:
        fake = self

        class Session:
            adapters: dict[str, Any] = {}  # the fake keeps no adapter
            auth: Any = None  # as a requests.Session's (`proxies.baker_session` sets it)

            def mount(self, prefix: str, adapter: Any) -> None:
                pass

            def close(self) -> None:
                pass

            def request(
                self,
                method: str,
                url: str,
                *,
                headers: dict[str, str],
                timeout: Any,
                params: Any = None,
                **_: Any,
            ) -> Any:
                fake.calls.append((url, dict(params or {}), dict(headers)))
                if url == REALM:
                    return _response(fake.token_status, body={"token": fake.token})
                if method == "POST" and url.endswith("/blobs/uploads/"):
                    return _response(fake.upload_status, location="/v2/team/app/blobs/uploads/u-1")
                if method == "DELETE":
                    fake.cancelled.append(url)
                    return _response(204)
                if isinstance(fake.v2[0], Exception):
                    raise fake.v2.pop(0)
                return fake.v2.pop(0)

        return Session()


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(user: str = "", password: str = "") -> None:
        found = registry.Login(user=user, password=Secret(password) if password else None)
        monkeypatch.setattr(registry_auth, "login_for", lambda host: found)

    use()
    return use


def _fake(monkeypatch: pytest.MonkeyPatch, fake: FakeRegistry) -> FakeRegistry:
    monkeypatch.setattr(registry_client.requests, "Session", fake.session)
    return fake


BEARER = f'Bearer realm="{REALM}",service="{HOST}"'
PUSH = [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]
PULL_ONLY = [{"type": "repository", "name": "team/app", "actions": ["pull"]}]


@pytest.mark.parametrize(
    ("v2", "token_status", "token", "credentials", "refused"),
    [
        ([_response(200)], 200, "", False, None),  # an open registry
        ([_response(401, challenge='Basic realm="r"'), _response(200)], 200, "", True, None),
        ([_response(401, challenge='Basic realm="r"')], 200, "", False, "(HTTP 401) (no `docker login`"),
        ([_response(401, challenge='Basic realm="r"')] * 2, 200, "", True, "(HTTP 401)"),
        ([_response(401, challenge=BEARER), _response(200)], 200, "opaque", True, None),
        ([_response(401, challenge=BEARER), _response(200)], 200, _jwt(PUSH), True, None),
        ([_response(401, challenge=BEARER)], 200, _jwt(PULL_ONLY), True, "granted no push"),
        ([_response(401, challenge=BEARER)], 401, "", True, "(HTTP 401)"),
        ([_response(401, challenge=BEARER), _response(403)], 200, "opaque", True, "(HTTP 403)"),
        ([_response(404)], 200, "", False, "answered HTTP 404 to the API version check"),
        ([requests.ConnectionError("refused")], 200, "", False, "cannot reach the registry"),
    ],
)
def test_check_push_refuses_before_any_push_when_the_registry_would_not_take_it(
    monkeypatch: pytest.MonkeyPatch,
    login: Any,
    v2: list[Any],
    token_status: int,
    token: str,
    credentials: bool,
    refused: str | None,
) -> None:
    if credentials:
        login("baker", "pw")
    fake = _fake(monkeypatch, FakeRegistry(list(v2), token_status, token))
    if refused is None:
        registry.check_push(f"{HOST}/team/app:1")
    else:
        with pytest.raises(ImageError) as caught:
            registry.check_push(f"{HOST}/team/app:1")
        assert refused in caught.value.message
        assert f"docker login {HOST}" in (caught.value.hint or "")
    tokens = [params for url, params, _ in fake.calls if url == REALM]
    assert all(params["scope"] == "repository:team/app:pull,push" for params in tokens)


@pytest.mark.parametrize("status", [401, 403, 405, 500])
def test_check_push_refuses_when_the_registry_reads_but_will_not_start_an_upload(
    monkeypatch: pytest.MonkeyPatch, login: Any, status: int
) -> None:
    fake = _fake(monkeypatch, FakeRegistry([_response(200)]))
    fake.upload_status = status
    with pytest.raises(ImageError) as caught:
        registry.check_push(f"{HOST}/team/app:1")
    expected = {
        401: "refused access to team/app (HTTP 401)",  # a challenge it cannot meet
        403: "(HTTP 403) (it refused to start an upload)",
        405: "(HTTP 405) (it refused to start an upload)",
        500: "answered HTTP 500 to starting an upload",
    }[status]
    assert expected in caught.value.message
    assert fake.cancelled == []


def test_check_push_cancels_the_upload_it_started_to_prove_the_push(
    monkeypatch: pytest.MonkeyPatch, login: Any
) -> None:
    fake = _fake(monkeypatch, FakeRegistry([_response(200)]))
    registry.check_push(f"{HOST}/team/app:1")
    assert fake.cancelled == [f"https://{HOST}/v2/team/app/blobs/uploads/u-1"]


def test_bake_with_push_refuses_before_the_engine_when_a_registry_would_not_take_it(
    monkeypatch: pytest.MonkeyPatch, login: Any
) -> None:
    _fake(monkeypatch, FakeRegistry([_response(200), _response(401, challenge='Basic realm="r"')]))
    monkeypatch.setattr(engine, "connect", lambda: pytest.fail("the engine was contacted"))
    manifest = Manifest(
        path="baker.yaml", image=ImageSpec(base="busybox:1", build=None), credentials={}, env=()
    )
    tags = [f"{HOST}/team/app:1", f"{HOST}/team/app:2", "other.example.com/team/app:1"]
    with pytest.raises(EngineError) as caught:
        bake(manifest, ResolvedEnv(()), tags=tags, push=True, on_line=lambda line: None)
    # One check per registry and repository: the second tag of team/app asks nothing new.
    assert caught.value.message.startswith("cannot push to other.example.com: the registry other.example.com")
    assert "docker login other.example.com" in (caught.value.hint or "")


def test_push_incomplete_names_every_tag_already_pushed_in_its_message_and_json() -> None:
    pushed = [engine.Pushed("r1.example.com/app:1", "sha256:" + "a" * 64)]
    error = PushIncomplete(EngineError("pushing r2.example.com/app:1 failed: EOF", hint="h"), pushed)
    assert error.message == (
        "pushing r2.example.com/app:1 failed: EOF\n"
        f"already pushed, cannot be taken back: r1.example.com/app:1 (sha256:{'a' * 64})"
    )
    assert error.to_json() == {
        "error": "EngineError",
        "message": error.message,
        "hint": "h",
        "pushed": [{"tag": "r1.example.com/app:1", "digest": "sha256:" + "a" * 64}],
    }


def test_a_base_config_with_a_key_twice_is_refused_as_such_not_as_one_with_no_layers() -> None:
    raw = b'{"config":{"Env":["A=1"],"Env":["B=2"]},"rootfs":{"type":"layers","diff_ids":[]}}'
    with pytest.raises(ImageError, match="twice in one object"):
        _layer_count(raw)


@pytest.mark.parametrize(
    "other",
    [
        {"tags": ("app:1",), "push": False, "before": None},  # other tags
        {"tags": ("Not A Tag",), "push": False, "before": None},  # the same tags, made without push
        {"tags": ("Not A Tag",), "push": True, "before": None},  # the same, made without a revocation
    ],
)
def test_bake_checks_its_tags_itself_when_handed_a_check_made_for_another_bake(
    monkeypatch: pytest.MonkeyPatch, other: dict[str, Any]
) -> None:
    """`check_tags` is made by the pipeline before resolution and handed to `bake`; a check made for
    other tags, or without the push or the revocation this bake makes, is not taken as this bake's."""
    from baker.image.bake import CheckedTags

    monkeypatch.setattr(engine, "connect", lambda: pytest.fail("the engine was contacted"))
    manifest = Manifest(
        path="baker.yaml", image=ImageSpec(base="busybox:1", build=None), credentials={}, env=()
    )
    with pytest.raises(RenderError, match="not a valid image name"):
        bake(
            manifest,
            ResolvedEnv(()),
            tags=["Not A Tag"],
            push=True,
            revoke_superseded=True,
            on_line=lambda line: None,
            checked=CheckedTags(**other),
        )


# -- a stop: the --json document names what the bake left ----------------------------------------


@pytest.mark.parametrize(
    ("stop", "left"),
    [
        (BakeStopped(("baker-bake-in-progress:0123abcd",), ()), ["baker-bake-in-progress:0123abcd"]),
        (KeyboardInterrupt(), []),
    ],
)
def test_an_engine_bake_stopped_exits_130_with_a_document_naming_what_it_left(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stop: KeyboardInterrupt,
    left: list[str],
) -> None:
    """The engine road said what a stop left (rte-3's possibly committed image) on stderr only; the
    registry road's --json document had `left` already: both do now (`_common.report_stop`)."""

    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise stop

    monkeypatch.setattr(pipeline, "build", stopped)
    manifest = write_manifest(
        tmp_path / "baker.yaml", image={"from": "baker-test/busybox:1"}, env={"A": "a1"}
    )
    code = main(["build", "-f", str(manifest), "--tag", "baker-test/app:1", "--json", "--no-ci"])
    document = json.loads(capsys.readouterr().out)
    assert code == 130
    assert document == {
        "error": "Interrupted",
        "message": "stopped: no tag moved",
        "left": left,
        "not_restored": [],
    }


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        (BakeStopped((), ("r.example/app:1",)), "stopped: some tags may have moved"),
        (
            BakeStopped(("sha256:" + "0" * 64,), ("baker-test/app:1",), completed=True),
            "stopped after the bake completed (the tags moved): its clean-up did not",
        ),
    ],
)
def test_a_stop_after_tags_moved_never_says_no_tag_moved(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stop: BakeStopped,
    message: str,
) -> None:
    """rt6-5/7: a third signal during the pushes, or in the clean-up after the commit: the document
    names the tags that moved (`not_restored`) and what the bake left, and says they moved."""

    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise stop

    monkeypatch.setattr(pipeline, "build", stopped)
    manifest = write_manifest(
        tmp_path / "baker.yaml", image={"from": "baker-test/busybox:1"}, env={"A": "a1"}
    )
    code = main(["build", "-f", str(manifest), "--tag", "baker-test/app:1", "--json", "--no-ci"])
    document = json.loads(capsys.readouterr().out)
    assert code == 130
    assert document == {
        "error": "Interrupted",
        "message": message,
        "left": list(stop.left),
        "not_restored": list(stop.not_restored),
    }

"""docker exceptions become EngineErrors that never quote the request URL (it carries every value)."""

from __future__ import annotations

import json
import traceback
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, NoReturn

import docker.errors
import pytest
import requests

from baker.errors import EngineError
from baker.image import engine
from baker.image.engine import request as builder_request
from baker.secret import REDACTOR, Secret


def _canary() -> str:
    return f"canary-{uuid.uuid4().hex}-$\"'\\"


def _api_error(status: int, url: str, explanation: str) -> docker.errors.APIError:
    """An APIError made the way docker-py makes one from an HTTP error response."""
    response = requests.Response()
    response.status_code = status
    response.url = url
    response.reason = "Internal Server Error" if status >= 500 else "Bad Request"
    response._content = ('{"message": "' + explanation + '"}').encode()
    try:
        raise requests.exceptions.HTTPError(f"{status} error for url: {url}", response=response)
    except requests.exceptions.HTTPError as exc:
        try:
            docker.errors.create_api_error_from_http_exception(exc)
        except docker.errors.APIError as api_error:
            return api_error
    raise AssertionError("docker-py did not raise")


class _FakeAPI:
    def __init__(self, build_error: BaseException | None = None) -> None:
        self.build_error = build_error
        self.build_calls: list[dict[str, Any]] = []

    def build(self, **kwargs: Any) -> Any:
        self.build_calls.append(kwargs)
        if self.build_error is not None:
            raise self.build_error
        return iter([{"stream": "Step 1/1 : FROM x\n"}, {"aux": {"ID": "sha256:" + "2" * 64}}])

    def inspect_image(self, ref: str) -> NoReturn:
        raise docker.errors.NotFound("no such image")


class _FakeClient:
    def __init__(self, api: _FakeAPI) -> None:
        self.api = api


def _context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM x\nARG A\nENV A=$A\n")
    return tmp_path


def _assert_no_leak(exc: BaseException, canary: str) -> None:
    texts = [
        str(exc),
        repr(exc),
        "".join(traceback.format_exception(exc)),
        str(exc.to_json()) if isinstance(exc, EngineError) else "",
    ]
    quoted = urllib.parse.quote_plus(canary, safe="")
    for text in texts:
        assert canary not in text
        assert quoted not in text
        assert "http+docker" not in text
        assert "buildargs" not in text


@pytest.mark.parametrize("status", [400, 500])
def test_api_error_never_quotes_the_url_when_the_build_is_refused(tmp_path: Path, status: int) -> None:
    canary = _canary()
    url = "http+docker://localhost/v1.41/build?" + urllib.parse.urlencode(
        {"buildargs": json.dumps({"A": canary}), "dockerfile": "Dockerfile"}
    )
    fake = _FakeAPI(_api_error(status, url, f"dockerfile parse error near {canary}"))
    with pytest.raises(EngineError) as caught:
        engine.build_image(
            _context(tmp_path),
            build_args={"A": Secret(canary)},
            labels={},
            on_line=lambda line: None,
            client=_FakeClient(fake),
        )
    assert f"answered {status}" in caught.value.message
    assert "dockerfile parse error" in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    _assert_no_leak(caught.value, canary)


def test_connection_error_never_quotes_the_url_when_the_engine_goes_away(tmp_path: Path) -> None:
    canary = _canary()
    url = "/v1.41/build?buildargs=" + urllib.parse.quote_plus(canary)
    error = requests.exceptions.ConnectionError(f"Max retries exceeded with url: {url}")
    with pytest.raises(EngineError, match="lost the connection") as caught:
        engine.build_image(
            _context(tmp_path),
            build_args={"A": canary},
            labels={},
            on_line=lambda line: None,
            client=_FakeClient(_FakeAPI(error)),
        )
    assert caught.value.hint is not None and "DOCKER_HOST" in caught.value.hint
    _assert_no_leak(caught.value, canary)


def test_secret_build_args_are_registered_for_redaction_when_built(tmp_path: Path) -> None:
    canary = _canary()
    engine.build_image(
        _context(tmp_path),
        build_args={"A": Secret(canary), "LITERAL": "from-git-not-secret"},
        labels={},
        on_line=lambda line: None,
        client=_FakeClient(_FakeAPI()),
    )
    assert canary not in REDACTOR.redact(f"x {canary} y")
    assert REDACTOR.redact("from-git-not-secret") == "from-git-not-secret"


def test_oversized_build_args_fail_before_the_engine_is_called_naming_the_largest(tmp_path: Path) -> None:
    big = "x" * (300 * 1024)
    values = {"SMALL": "small-value", "BIG_ONE": big, "BIG_TWO": big + "y"}
    fake = _FakeAPI()
    with pytest.raises(EngineError, match="too large") as caught:
        engine.build_image(
            _context(tmp_path),
            build_args=values,
            labels={},
            on_line=lambda line: None,
            client=_FakeClient(fake),
        )
    message = caught.value.message
    assert "BIG_TWO" in message and "BIG_ONE" in message
    assert message.index("BIG_TWO") < message.index("BIG_ONE")
    assert "xxxxxxxx" not in message
    assert fake.build_calls == []


def test_query_size_counts_the_encoded_form() -> None:
    # Non-ASCII and quotes grow when JSON-escaped and URL-encoded.
    assert builder_request.query_size({"A": "é" * 10}, {}) > builder_request.query_size({"A": "e" * 10}, {})


def test_connect_fails_with_a_hint_when_no_engine_listens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(EngineError) as caught:
        engine.connect()
    assert caught.value.hint is not None and "DOCKER_HOST" in caught.value.hint
    assert "start Docker" in caught.value.hint


@pytest.mark.parametrize(
    "host", ["tcp://[::1", "tcp://127.0.0.1:notaport", "tcp://127.0.0.1:99999", "ssh://[user@host"]
)
def test_connect_names_docker_host_when_docker_py_cannot_read_it(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    """A DOCKER_HOST urllib cannot parse (docker-py's ValueError) was an "internal error (ValueError)"."""
    monkeypatch.setenv("DOCKER_HOST", host)
    with pytest.raises(EngineError) as caught:
        engine.connect()
    assert "DOCKER_HOST is not an engine address" in str(caught.value)
    assert caught.value.hint is not None and "DOCKER_HOST" in caught.value.hint


def test_inspect_image_is_none_when_the_engine_has_no_such_image() -> None:
    assert engine.inspect_image("nothing:here", client=_FakeClient(_FakeAPI())) is None


def test_ensure_image_pulls_a_missing_base_and_names_docker_login_when_the_pull_fails() -> None:
    pulls: list[tuple[str, str]] = []

    class _PullFails(_FakeAPI):
        def pull(self, repository: str, tag: str, **kwargs: Any) -> Any:
            pulls.append((repository, tag))
            return iter([{"error": "pull access denied for registry.example.com/app"}])

    lines: list[str] = []
    with pytest.raises(EngineError, match="not local and pulling it failed") as caught:
        engine.ensure_image("registry.example.com/app:1", lines.append, client=_FakeClient(_PullFails()))
    assert pulls == [("registry.example.com/app", "1")]
    assert caught.value.hint is not None and "docker login registry.example.com" in caught.value.hint
    assert lines == ["pulling the base image registry.example.com/app:1"]


def test_a_tag_moved_when_a_stop_arrives_is_put_back() -> None:
    """The engine moved the name, then Ctrl-C arrived before baker heard back: the name was recorded
    before the call, so it is restored to the image it pointed at."""
    calls: list[tuple[str, ...]] = []

    names = {"app:1": "sha256:" + "9" * 64}

    class _StopsAfterTagging(_FakeAPI):
        def inspect_image(self, ref: str) -> Any:
            image = names.get(ref, ref if ref.startswith("sha256:") else None)
            if image is None:
                raise docker.errors.NotFound("no such image")
            return {"Id": image, "Config": {}}

        def tag(self, image: str, repository: str, tag: str, force: bool = False) -> bool:
            calls.append(("tag", image, f"{repository}:{tag}"))
            names[f"{repository}:{tag}"] = image
            if image != "sha256:" + "9" * 64:
                raise KeyboardInterrupt  # the engine moved it; baker is stopped before it returns
            return True

    with pytest.raises(KeyboardInterrupt):
        engine.tag("sha256:" + "1" * 64, ["app:1"], client=_FakeClient(_StopsAfterTagging()))
    assert calls[-1] == ("tag", "sha256:" + "9" * 64, "app:1")  # put back where it was


class _CutStreamAPI:
    """An engine whose build stream breaks mid-way, after one step made an image."""

    def __init__(self, cut: BaseException) -> None:
        self.cut = cut
        self.removed: list[str] = []
        self.label_queries: list[dict[str, Any]] = []

    def build(self, **kwargs: Any) -> Any:
        def stream() -> Any:
            yield {"stream": "Step 4/5 : ENV A=${baker_x_A}\n"}
            yield {"stream": " ---> " + "3" * 12 + "\n"}
            raise self.cut

        return stream()

    def inspect_image(self, ref: str) -> dict[str, Any]:
        return {"Id": ref, "RepoTags": [], "Config": {}}

    def remove_image(self, ref: str, noprune: bool = False) -> None:
        self.removed.append(ref)

    def images(self, **kwargs: Any) -> list[str]:
        self.label_queries.append(kwargs)
        return []


def _cuts() -> list[BaseException]:
    import http.client

    import urllib3.exceptions

    incomplete = http.client.IncompleteRead(b"partial", 100)
    return [
        urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead", incomplete),
        requests.exceptions.ChunkedEncodingError(urllib3.exceptions.ProtocolError("Connection broken")),
        urllib3.exceptions.ReadTimeoutError(None, "/v1.41/build?buildargs=x", "read timed out"),  # type: ignore[arg-type]
        incomplete,
    ]


@pytest.mark.parametrize("cut", _cuts(), ids=lambda exc: type(exc).__name__)
def test_a_connection_cut_mid_build_is_an_engine_error_that_quotes_no_value(
    tmp_path: Path, cut: BaseException
) -> None:
    canary = _canary()
    api = _CutStreamAPI(cut)
    with pytest.raises(EngineError, match="lost the connection") as caught:
        engine.build_image(
            _context(tmp_path),
            build_args={"A": Secret(canary)},
            labels={},
            on_line=lambda line: None,
            client=_FakeClient(api),  # type: ignore[arg-type]
        )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    _assert_no_leak(caught.value, canary)


def test_an_engine_that_never_answers_is_given_up_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import time

    from baker.image.engine import client as engine_client

    with socket.socket() as silent:  # accepts connections (the backlog does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(engine_client, "CONNECT_TIMEOUT", 0.5)
        started = time.monotonic()
        with pytest.raises(EngineError, match="connecting to the Docker engine"):
            engine_client.connect()
        assert time.monotonic() - started < 5

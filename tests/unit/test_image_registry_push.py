"""Registry writes (`baker.image.registry.push`) over a fake HTTP session: the mount's token scopes, a 202
mount answered by an upload, a stream never sent twice, a refusal never quoting a body."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from baker.errors import ImageError
from baker.image.oci import Blob
from baker.image.registry import auth as registry_auth
from baker.image.registry import push as registry_push
from baker.image.registry.auth import Login
from baker.image.registry.client import RegistryClient
from baker.image.registry.refs import parse_ref
from baker.secret import Secret

HOST = "127.0.0.1:5000"
VALUE = "SECRET-VALUE-in-a-config-9d2f"


def _response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response.raw = io.BytesIO(body)
    return response


class FakeSession:
    def __init__(self, answers: list[requests.Response]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        data = kwargs.get("data")
        if data is not None and not isinstance(data, bytes | dict):
            kwargs["data"] = b"".join(data)  # consume a stream, as a real send does
        self.calls.append((method, url, kwargs))
        return self.answers.pop(0)

    def close(self) -> None:
        pass


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry_auth, "login_for", lambda host: Login(user="u", password=Secret("pw-unit-7"))
    )


def _client(answers: list[requests.Response], **kwargs: Any) -> tuple[RegistryClient, FakeSession]:
    client = RegistryClient(parse_ref(f"{HOST}/team/app:baked"), push=True, **kwargs)
    fake = FakeSession(answers)
    client.session = fake  # type: ignore[assignment]
    return client, fake


CHALLENGE = {"WWW-Authenticate": f'Bearer realm="http://{HOST}/token",service="reg"'}


def test_a_mount_asks_for_push_on_the_target_and_pull_on_the_source(login: None) -> None:
    client, fake = _client(
        [_response(401, headers=CHALLENGE), _response(200, b'{"token": "tok-unit-1"}'), _response(201)],
        pull_from=("base/app",),
    )
    with client:
        assert registry_push.start_upload(client, mount="sha256:abc", source="base/app") is None
    (post, url, _), (_, token_url, token), (_, _, retried) = fake.calls
    assert (post, url) == (
        "POST",
        f"http://{HOST}/v2/team/app/blobs/uploads/?mount=sha256%3Aabc&from=base%2Fapp",
    )
    assert token_url == f"http://{HOST}/token"
    assert token["params"]["scope"] == ["repository:team/app:pull,push", "repository:base/app:pull"]
    assert retried["headers"]["Authorization"] == "Bearer tok-unit-1"


def test_a_mount_the_registry_declines_gives_an_upload_to_make(login: None) -> None:
    client, _ = _client([_response(202, headers={"Location": "/v2/team/app/blobs/uploads/u1?_state=s"})])
    with client:
        location = registry_push.start_upload(client, mount="sha256:abc", source="base/app")
    assert location == f"http://{HOST}/v2/team/app/blobs/uploads/u1?_state=s"


def test_an_upload_puts_the_exact_bytes_with_their_digest_and_keeps_the_uploads_state(login: None) -> None:
    blob = Blob(b'{"config":{}}', "application/vnd.oci.image.config.v1+json")
    client, fake = _client(
        [
            _response(202, headers={"Location": f"http://{HOST}/v2/team/app/blobs/uploads/u1?_state=s"}),
            _response(201),
        ]
    )
    with client:
        registry_push.upload(client, blob)
    method, url, kwargs = fake.calls[1]
    assert method == "PUT"
    assert (
        url == f"http://{HOST}/v2/team/app/blobs/uploads/u1?_state=s&digest={blob.digest.replace(':', '%3A')}"
    )
    assert kwargs["data"] == blob.data
    assert kwargs["headers"]["Content-Length"] == str(blob.size)


def test_a_stream_is_never_sent_twice(login: None) -> None:
    client, _ = _client([_response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})])

    def stream() -> Iterator[bytes]:
        yield b"layer bytes"

    with client, pytest.raises(ImageError, match="cannot send twice"):
        registry_push.finish_upload(
            client, f"http://{HOST}/v2/team/app/blobs/uploads/u1", "sha256:x", stream(), 11
        )


def test_a_refusal_names_the_registry_and_its_error_codes_never_the_body(login: None) -> None:
    body = f'{{"errors":[{{"code":"DIGEST_INVALID","message":"bad","detail":"{VALUE}"}}]}}'.encode()
    blob = Blob(f'{{"Env":["A={VALUE}"]}}'.encode(), "m")
    client, _ = _client([_response(202, headers={"Location": "/u"}), _response(400, body)])
    with client, pytest.raises(ImageError) as caught:
        registry_push.upload(client, blob)
    assert (
        caught.value.message
        == f"the registry {HOST} answered HTTP 400 (DIGEST_INVALID) when asked to take the blob {blob.digest}"
    )
    assert VALUE not in str(caught.value.to_json())


@pytest.mark.parametrize("status", [401, 403])
def test_a_denied_write_says_what_was_refused_and_how_to_sign_in(login: None, status: int) -> None:
    client, _ = _client([_response(status, b'{"errors":[{"code":"DENIED"}]}')])
    client.auth_header = "Basic already"  # signed in: the refusal is final
    with client, pytest.raises(ImageError) as caught:
        registry_push.start_upload(client)
    assert caught.value.message == (
        f"the registry {HOST} refused access to team/app (HTTP {status})"
        " (it refused to start an upload (DENIED))"
    )
    assert caught.value.hint is not None and f"docker login {HOST}" in caught.value.hint


def test_a_read_only_registry_is_named_as_such(login: None) -> None:
    client, _ = _client([_response(405, b'{"errors":[{"code":"UNSUPPORTED"}]}')])
    with client, pytest.raises(ImageError, match=r"HTTP 405 \(UNSUPPORTED\): read-only"):
        registry_push.start_upload(client)


def test_a_manifest_stored_under_another_digest_is_an_error(login: None) -> None:
    blob = Blob(b"{}", "application/vnd.oci.image.manifest.v1+json")
    client, fake = _client([_response(201, headers={"Docker-Content-Digest": "sha256:other"})])
    with client, pytest.raises(ImageError, match="stored the manifest under sha256:other"):
        registry_push.put_manifest(client, "baked", blob)
    assert fake.calls[0][2]["headers"]["Content-Type"] == blob.media_type


def test_a_copied_blob_cut_short_is_an_error() -> None:
    stream = registry_push._Stream(_response(200, b"short"), 100, "sha256:x", "source.example.com")
    with pytest.raises(ImageError, match="cut short"):
        b"".join(stream)
    assert len(stream) == 100


@pytest.mark.parametrize(
    ("location", "allowed"),
    [
        ("http://registry.example.com/v2/team/app/manifests/t", False),
        ("http://10.0.0.8:5000/v2/team/app/manifests/t", False),
        ("http://127.0.0.1:5000/v2/team/app/manifests/t", True),
        ("http://[::1]:5000/v2/team/app/manifests/t", True),
        ("http://registry.localhost/v2/team/app/manifests/t", True),
        ("https://storage.example.com/blob", True),
    ],
)
def test_plain_http_goes_to_loopback_only_even_for_a_request_without_a_body(
    login: None, location: str, allowed: bool
) -> None:
    client = RegistryClient(parse_ref("registry.example.com/team/app:baked"))
    fake = FakeSession([_response(307, headers={"Location": location}), _response(200)])
    client.session = fake  # type: ignore[assignment]
    url = "https://registry.example.com/v2/team/app/manifests/t"
    with client:
        if allowed:
            assert client.get(url, "*/*").status_code == 200
        else:
            with pytest.raises(ImageError, match="sent baker to plain http") as caught:
                client.get(url, "*/*")
            assert "/v2/" not in caught.value.message  # the origin, never the path
    assert len(fake.calls) == (2 if allowed else 1)


@pytest.mark.parametrize(
    ("status", "body", "gone"),
    [
        (202, b"", True),
        (200, b"", True),
        (404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', True),  # never there, or already gone
        (405, b'{"errors":[{"code":"UNSUPPORTED"}]}', False),  # distribution without deletes
        (400, b'{"errors":[{"code":"UNSUPPORTED"}]}', False),
    ],
)
def test_a_delete_says_whether_the_thing_is_gone_or_the_registry_does_not_delete(
    login: None, status: int, body: bytes, gone: bool
) -> None:
    client, fake = _client([_response(status, body)])
    client.auth_header = "Basic already"
    with client:
        assert registry_push.delete(client, "manifests", "sha256:abc") is gone
    assert fake.calls[0][:2] == ("DELETE", f"http://{HOST}/v2/team/app/manifests/sha256:abc")


def test_a_refused_delete_is_an_error_naming_the_digest(login: None) -> None:
    client, _ = _client([_response(403, b'{"errors":[{"code":"DENIED"}]}')])
    client.auth_header = "Basic already"
    with client, pytest.raises(ImageError, match=r"refused to delete sha256:abc \(DENIED\)"):
        registry_push.delete(client, "blobs", "sha256:abc")


def test_a_tags_previous_manifest_is_read_as_its_exact_bytes_and_type(login: None) -> None:
    raw = b'{ "schemaVersion": 2, "manifests": [] }'
    client, _ = _client(
        [_response(200, raw, {"Content-Type": "application/vnd.oci.image.index.v1+json"}), _response(404)]
    )
    with client:
        previous = registry_push.read_manifest(client, "prod", "*/*")
        absent = registry_push.read_manifest(client, "new", "*/*")
    assert previous is not None and previous.data == raw
    assert previous.media_type == "application/vnd.oci.image.index.v1+json"
    assert absent is None

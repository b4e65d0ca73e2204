"""Red-team reproductions for the registry writes and the config transform of `--in-registry`
(issue 11), over a fake HTTP session (tests/unit/test_image_registry_push.py's) and pure functions.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from baker.errors import ImageError
from baker.image import oci
from baker.image.oci import Blob
from baker.image.registry import auth as registry_auth
from baker.image.registry import push as registry_push
from baker.image.registry.auth import Login
from baker.image.registry.client import RegistryClient
from baker.image.registry.refs import parse_ref
from baker.secret import Secret
from tests.unit.test_image_registry_push import FakeSession, _response

VALUE = b'{"config":{"Env":["DB_PASSWORD=RT-CANARY-cleartext-7f3a"]}}'


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry_auth, "login_for", lambda host: Login(user="u", password=Secret("pw-redteam-1"))
    )


def _https_client(answers: list[Any]) -> tuple[RegistryClient, FakeSession]:
    client = RegistryClient(parse_ref("registry.example.com/team/app:baked"), push=True)
    fake = FakeSession(answers)
    client.session = fake  # type: ignore[assignment]
    return client, fake


def _sent_over_http(fake: FakeSession) -> list[str]:
    return [url for _, url, kwargs in fake.calls if url.startswith("http://") and kwargs.get("data")]


def test_a_config_is_never_sent_over_plain_http_to_a_non_loopback_host(login: None) -> None:
    client, fake = _https_client(
        [
            _response(
                202, headers={"Location": "http://registry.example.com/v2/team/app/blobs/uploads/u1?_state=s"}
            ),
            _response(201),
        ]
    )
    with client, contextlib.suppress(ImageError):  # refusing is the fix
        registry_push.upload(client, Blob(VALUE, oci.OCI_MANIFEST))
    assert _sent_over_http(fake) == []


def test_a_redirected_config_upload_is_never_replayed_over_plain_http(login: None) -> None:
    client, fake = _https_client(
        [
            _response(202, headers={"Location": "/v2/team/app/blobs/uploads/u1?_state=s"}),
            _response(307, headers={"Location": "http://storage.example.com/put?sig=1"}),
            _response(201),
        ]
    )
    with client, contextlib.suppress(ImageError):  # refusing is the fix
        registry_push.upload(client, Blob(VALUE, oci.OCI_MANIFEST))
    assert _sent_over_http(fake) == []


# --- the config transform -------------------------------------------------------------------------


def _strict(raw: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(raw, parse_constant=refuse)


@pytest.mark.parametrize(
    "number",
    ["1e999", "12345678901234567890.123456789", "0.10000000000000000001"],
    ids=["inf", "long", "precise"],
)
def test_numbers_in_a_base_config_are_kept_as_written(number: str) -> None:
    base = (
        '{"architecture":"amd64","os":"linux","config":{"Env":["A=1"]},"x-number":' + number + "}"
    ).encode()
    baked = oci.bake_config(
        base,
        [("S", "v")],
        {"l": "x"},
        created="2026-01-01T00:00:00Z",
        comment="c",
        media_type=oci.OCI_MANIFEST,
    )
    _strict(baked.data)  # valid JSON
    assert b'"x-number":' + number.encode() in baked.data


# --- time bounds ------------------------------------------------------------------------------------


def test_a_layer_copy_is_bounded_whatever_size_the_base_registry_declares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from baker.image import inregistry

    deadlines: list[float] = []

    class Recorder:
        def __init__(
            self, ref: Any, *, push: bool = False, pull_from: Any = (), deadline: Any = None
        ) -> None:
            self.ref = ref
            if deadline is not None:
                deadlines.append(deadline)

        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    monkeypatch.setattr(inregistry, "RegistryClient", Recorder)
    monkeypatch.setattr(registry_push, "blob_exists", lambda client, digest: False)
    monkeypatch.setattr(registry_push, "copy_blob", lambda *args: None)
    layer = {"mediaType": oci.OCI_MANIFEST, "digest": "sha256:" + "a" * 64, "size": 1 << 40}
    digest = "sha256:" + "b" * 64
    platform = inregistry.BasePlatform("linux/amd64", digest, {"layers": [layer]}, "", b"{}", "")
    base = inregistry.BaseImage(parse_ref("hub.example.com/library/app:1"), None, "", (platform,))
    inregistry._place_layers(base, parse_ref("registry.example.com/team/app:baked"), lambda line: None)
    assert deadlines, "the copy ran with a deadline"
    assert max(deadlines) <= 3600, f"a copy may take {max(deadlines) / 86400:.1f} days"

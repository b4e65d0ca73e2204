"""The engine half of the bake, against a small stand-in for docker-py's API: the base's config read
from a save stream and checked against its id, the archive a load gets, the route the image store
chooses.  (The real engine: tests/integration/test_build_config_edit.py.)"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest

from baker.errors import EngineError
from baker.image import oci
from baker.image.engine import load

CONFIG = json.dumps(
    {"config": {"Env": ["A=1"]}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}}
)
CONFIG_BYTES = CONFIG.encode()
BASE_ID = oci.digest_of(CONFIG_BYTES)


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _chunks(data: bytes, size: int = 700) -> Iterator[bytes]:
    return iter([data[i : i + size] for i in range(0, len(data), size)])


class _API:
    def __init__(self, saved: bytes, info: dict[str, Any] | None = None) -> None:
        self.saved = saved
        self.loaded: list[bytes] = []
        self.closed = 0
        self._info = info or {}

    def get_image(self, image: str, chunk_size: int | None = None) -> Any:
        api = self

        class _Stream:
            def __iter__(self) -> Iterator[bytes]:
                return _chunks(api.saved)

            def close(self) -> None:
                api.closed += 1

        return _Stream()

    def load_image(self, data: Any, quiet: bool | None = None) -> Any:
        self.loaded.append(data if isinstance(data, bytes) else b"".join(data))
        digest = oci.digest_of(_members(self.loaded[-1])[_manifest(self.loaded[-1])["Config"]])
        return iter([{"stream": f"Loaded image ID: {digest}\n"}])


class _Client:
    def __init__(self, api: _API) -> None:
        self.api = api

    def info(self) -> dict[str, Any]:
        return self.api._info


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: (tar.extractfile(m) or io.BytesIO()).read() for m in tar if m.isfile()}


def _manifest(archive: bytes) -> dict[str, Any]:
    [entry] = json.loads(_members(archive)["manifest.json"])
    return dict(entry)


def _saved(config_name: str) -> bytes:
    return _tar(
        [
            ("0" * 64 + "/layer.tar", b"layer bytes" * 100),
            (config_name, CONFIG_BYTES),
            (
                "manifest.json",
                json.dumps([{"Config": config_name, "Layers": ["0" * 64 + "/layer.tar"]}]).encode(),
            ),
            ("repositories", b"{}"),
        ]
    )


@pytest.mark.parametrize("name", [BASE_ID[7:] + ".json", "blobs/sha256/" + BASE_ID[7:]])
def test_the_base_config_is_read_from_the_save_stream_in_either_layout_and_the_stream_closed(
    name: str,
) -> None:
    api = _API(_saved(name))
    assert load.base_config(BASE_ID, client=_Client(api)) == CONFIG_BYTES  # type: ignore[arg-type]
    assert api.closed == 1


def test_a_config_that_does_not_match_the_image_id_is_refused() -> None:
    other = "sha256:" + "2" * 64
    api = _API(_saved(other[7:] + ".json").replace(b'"A=1"', b'"A=2"'))
    with pytest.raises(EngineError, match="does not match"):
        load.base_config(other, client=_Client(api))  # type: ignore[arg-type]


def test_a_save_stream_without_the_config_is_an_engine_error() -> None:
    api = _API(_tar([("manifest.json", b"[]")]))
    with pytest.raises(EngineError, match="holds no config"):
        load.base_config(BASE_ID, client=_Client(api))  # type: ignore[arg-type]


def _baked() -> oci.Blob:
    return oci.bake_config(
        CONFIG_BYTES,
        [("SECRET", "s3cr3t\nvalue")],
        {"l": "v"},
        created=oci.now(),
        comment="c",
        media_type="m",
    )


def test_the_layer_less_archive_holds_the_config_and_a_manifest_naming_one_path_per_layer() -> None:
    config = _baked()
    archive = load.config_only_archive(config, 3)
    members = _members(archive)
    assert set(members) == {config.digest[7:] + ".json", "manifest.json"}
    assert members[config.digest[7:] + ".json"] == config.data
    assert _manifest(archive) == {
        "Config": config.digest[7:] + ".json",
        "RepoTags": None,
        "Layers": [f"layers/{i}/layer.tar" for i in range(3)],
    }


def test_the_layers_route_streams_the_bases_archive_through_with_the_config_replaced() -> None:
    api = _API(_saved(BASE_ID[7:] + ".json"))
    config = _baked()
    image_id = load.load_config(config, base_id=BASE_ID, layer_count=1, full_layers=True, client=_Client(api))  # type: ignore[arg-type]
    assert image_id == config.digest
    members = _members(api.loaded[0])
    assert set(members) == {"0" * 64 + "/layer.tar", config.digest[7:] + ".json", "manifest.json"}
    assert members["0" * 64 + "/layer.tar"] == b"layer bytes" * 100
    assert _manifest(api.loaded[0])["Layers"] == ["0" * 64 + "/layer.tar"]


def test_a_load_that_names_another_image_is_an_engine_error() -> None:
    class _Other(_API):
        def load_image(self, data: Any, quiet: bool | None = None) -> Any:
            return iter([{"stream": "Loaded image ID: sha256:" + "9" * 64 + "\n"}])

    with pytest.raises(EngineError, match="not the baked config"):
        load.load_config(
            _baked(), base_id=BASE_ID, layer_count=1, full_layers=False, client=_Client(_Other(b""))
        )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ([["driver-type", "io.containerd.snapshotter.v1"]], True),
        ([["Backing Filesystem", "extfs"], ["Supports d_type", "true"]], False),
        (None, False),
    ],
)
def test_the_containerd_image_store_is_told_by_docker_info(status: Any, expected: bool) -> None:
    client = _Client(_API(b"", {"Driver": "overlayfs", "DriverStatus": status}))
    assert load.wants_layers(client=client) is expected  # type: ignore[arg-type]

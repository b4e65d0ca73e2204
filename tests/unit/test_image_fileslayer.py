"""The `files:` layer (baker.image.fileslayer) and what the pure bake (baker.image.oci) adds for it:
deterministic bytes, the files and their parent directories only, the bake's own time, the diff_id
and a history entry naming paths, the descriptor typed as the manifest's layers."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from baker.image import fileslayer, oci
from baker.model import FileEntry, LiteralValue

CREATED = "2026-12-06T23:55:01.123456Z"
PEM = b"-----BEGIN KEY-----\r\nsecret-bytes \xc3\xa9\n-----END KEY-----\n"


def _files() -> list[tuple[FileEntry, bytes]]:
    return [
        (FileEntry("/run/secrets/tls.pem", LiteralValue(""), 0o400, 1000, 0), PEM),
        (FileEntry("/etc/app/flag", LiteralValue(""), 0o444, 0, 5), b"x"),
        (FileEntry("/opt/" + "long-" * 30 + "/v", LiteralValue(""), 0o440, 3_000_000, 0), b""),
    ]


def _members(layer: fileslayer.FilesLayer) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(layer.tar)) as tar:
        return list(tar)


def test_the_layer_holds_the_files_and_their_directories_sorted_and_nothing_else() -> None:
    layer = fileslayer.build(_files(), mtime=fileslayer.seconds(CREATED))
    members = _members(layer)
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names == ["etc", "etc/app", "etc/app/flag", "opt", "opt/" + "long-" * 30, names[5], "run",
                     "run/secrets", "run/secrets/tls.pem"]  # fmt: skip
    by_name = {m.name: m for m in members}
    pem = by_name["run/secrets/tls.pem"]
    assert (pem.mode, pem.uid, pem.gid, pem.uname, pem.gname, pem.size) == (0o400, 1000, 0, "", "", len(PEM))
    assert by_name[names[5]].uid == 3_000_000  # past ustar's field: a PAX record carries it
    for directory in ("etc", "etc/app", "run", "run/secrets"):
        assert by_name[directory].isdir() and (by_name[directory].mode, by_name[directory].uid) == (0o755, 0)
    assert {m.mtime for m in members} == {1796601301.123456}
    assert gzip.decompress(layer.compressed) == layer.tar
    assert layer.paths == tuple(sorted(f.path for f, _ in _files()))


def test_the_same_bake_gives_the_same_bytes_and_another_bake_time_another_digest() -> None:
    first = fileslayer.build(_files(), mtime=fileslayer.seconds(CREATED))
    again = fileslayer.build(list(reversed(_files())), mtime=fileslayer.seconds(CREATED))
    later = fileslayer.build(_files(), mtime=fileslayer.seconds("2026-12-06T23:55:01.123457Z"))
    assert (first.tar, first.compressed) == (again.tar, again.compressed)
    assert first.diff_id != later.diff_id  # two bakes of one value never share a layer


def test_the_layer_shows_its_digest_never_its_bytes() -> None:
    layer = fileslayer.build(_files(), mtime=0)
    assert "secret-bytes" not in repr(layer) and layer.diff_id in repr(layer)
    assert "secret-bytes" not in repr(layer.blob(oci.OCI_MANIFEST))


def test_the_config_gets_the_diff_id_and_a_history_entry_naming_paths_and_the_manifest_the_layer() -> None:
    base_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]},
        "history": [{"created_by": "ADD rootfs"}],
    }
    layer = fileslayer.build(_files(), mtime=fileslayer.seconds(CREATED))
    config = oci.bake_config(
        json.dumps(base_config).encode(),
        [("A", "b")],
        {"l": "v"},
        created=CREATED,
        comment="c",
        media_type="application/vnd.oci.image.config.v1+json",
        layer=(layer.diff_id, layer.paths),
    )
    document = json.loads(config.data)
    assert document["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64, layer.diff_id]
    files_entry, env_entry = document["history"][-2:]
    assert "empty_layer" not in files_entry  # a layer of its own, as Docker writes it
    assert files_entry["created_by"] == f"baker: COPY {' '.join(layer.paths)} (values from Key Vault)"
    assert env_entry["empty_layer"] is True
    assert b"secret-bytes" not in config.data
    for manifest_type, layer_type in fileslayer.LAYER_TYPES.items():
        base_manifest = {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": "x", "digest": "sha256:" + "b" * 64, "size": 1},
            "layers": [{"mediaType": layer_type, "digest": "sha256:" + "c" * 64, "size": 2}],
        }
        blob = layer.blob(manifest_type)
        baked = json.loads(oci.bake_manifest(base_manifest, config, manifest_type, blob).data)
        assert baked["layers"][-1] == {"mediaType": layer_type, "digest": blob.digest, "size": blob.size}
        assert baked["layers"][:-1] == base_manifest["layers"]


def test_the_engine_archive_carries_the_files_layer_last_and_names_it_last() -> None:
    from baker.image.engine.load import FILES_LAYER, config_only_archive

    layer = fileslayer.build(_files(), mtime=fileslayer.seconds(CREATED))
    config = oci.Blob(b'{"rootfs": {"diff_ids": []}}', "application/vnd.docker.container.image.v1+json")
    archive = config_only_archive(config, 2, layer.tar)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = tar.getnames()
        data = tar.extractfile(FILES_LAYER)
        assert data is not None and data.read() == layer.tar
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
    assert names == [config.digest.removeprefix("sha256:") + ".json", FILES_LAYER, "manifest.json"]
    assert manifest[0]["Layers"] == ["layers/0/layer.tar", "layers/1/layer.tar", FILES_LAYER]
    without = config_only_archive(config, 2)
    with tarfile.open(fileobj=io.BytesIO(without)) as tar:
        assert FILES_LAYER not in tar.getnames()

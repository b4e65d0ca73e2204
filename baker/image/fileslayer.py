"""The one layer a bake adds for `files:`: the values as files, and nothing else.  Pure: the same
bytes for the engine road (the layer file of the archive `docker load` takes) and the registry road
(the gzip blob pushed like any other).

- **What is in it**: each file (its path, `mode`, `uid`, `gid` from the manifest), and an entry for
  each directory above a file (`/run`, `/run/secrets`), mode 0755, owned by root.  A layer needs
  them: an extractor meeting a file whose directory it lacks makes one itself (moby: 0755 root), and
  a directory entry in a layer sets that directory's mode and owner in the image, over the base's.
  So a base directory on the path with another mode or owner (a home directory owned by the
  application's user, say) gets 0755 root: choose paths under directories such as `/run/secrets` or
  `/etc/<app>`.  (`baker.manifest.files` refuses `/tmp` and the runtime's mounts.)
- **Deterministic**: entries sorted by path, directories before what they hold; every time the
  bake's own `created` time, to the microsecond (a PAX `mtime` record: so two bakes of one value
  never share a layer digest, a digest is no way to tell that two images hold the same secret, and
  an undo deletes only its own layer), no user or group names; gzip with no name and mtime 0.
- The bytes hold the values: kept in memory, sent as hashed, never in a message, a log record, a
  repr (`FilesLayer` shows its digest and paths) or a file.  A value with no UTF-8 form (a lone
  surrogate) is refused, naming the path.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Sequence
from datetime import datetime

from baker.errors import ImageError
from baker.image import oci
from baker.manifest.files import parents
from baker.model import FileEntry, Manifest
from baker.record import Record
from baker.resolver import ResolvedEnv

# A layer's media type follows the manifest's (one manifest never mixes Docker and OCI types).
LAYER_TYPES = {
    oci.OCI_MANIFEST: "application/vnd.oci.image.layer.v1.tar+gzip",
    oci.DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip",
}
DIR_MODE = 0o755


class FilesLayer(Record):
    tar: bytes  # uncompressed: its digest is the config's diff_id (and the engine archive's layer file)
    compressed: bytes  # gzip: what a registry stores, named by the manifest's layer descriptor
    paths: tuple[str, ...]  # the files, sorted

    @property
    def diff_id(self) -> str:
        return oci.digest_of(self.tar)

    def blob(self, manifest_media_type: str) -> oci.Blob:
        """The gzip blob, typed as `manifest_media_type`'s layers are."""
        return oci.Blob(self.compressed, LAYER_TYPES.get(manifest_media_type, LAYER_TYPES[oci.OCI_MANIFEST]))

    def __repr__(self) -> str:  # the bytes hold values: never in a repr
        return f"FilesLayer({self.diff_id}, {len(self.paths)} files)"


def seconds(created: str) -> float:
    """The bake's `created` time (RFC 3339, as `oci.now` writes it) in seconds, to the
    microsecond (a PAX `mtime` record carries the fraction): a layer is one bake's own."""
    moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return int(moment.timestamp()) + moment.microsecond / 1_000_000


def _header(name: str, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: float) -> bytes:
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.uname = info.gname = ""
    info.size = size
    info.mtime = mtime
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


def build(files: Sequence[tuple[FileEntry, bytes]], *, mtime: float) -> FilesLayer:
    """The layer holding `files` (entry, content) and their parent directories."""
    by_path = {entry.path: (entry, data) for entry, data in files}
    directories = sorted({d for path in by_path for d in parents(path)} - set(by_path))
    out = io.BytesIO()
    for path in sorted([*directories, *by_path]):
        if path in by_path:
            entry, data = by_path[path]
            out.write(_header(path, tarfile.REGTYPE, entry.mode, entry.uid, entry.gid, len(data), mtime))
            out.write(data + b"\0" * (-len(data) % tarfile.BLOCKSIZE))
        else:
            out.write(_header(path, tarfile.DIRTYPE, DIR_MODE, 0, 0, 0, mtime))
    out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
    tar = out.getvalue()
    return FilesLayer(tar, gzip.compress(tar, compresslevel=9, mtime=0), tuple(sorted(by_path)))


def layer_for(manifest: Manifest, resolved: ResolvedEnv, *, created: str) -> FilesLayer | None:
    """The layer of `manifest.files` with their values from `resolved`; None when there are none."""
    if not resolved.files:
        return None
    entries = {entry.path: entry for entry in manifest.files}
    files = []
    for item in resolved.files:
        try:
            data = item.value.reveal().encode("utf-8")
        except UnicodeEncodeError:
            raise ImageError(
                f"{item.env}: the value is not valid Unicode text (it holds a lone surrogate)",
                hint="store the value base64-encoded and decode it in the application",
            ) from None
        files.append((entries[item.env], data))
    return build(files, mtime=seconds(created))


__all__ = ["DIR_MODE", "LAYER_TYPES", "FilesLayer", "build", "layer_for", "seconds"]

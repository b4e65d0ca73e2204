"""The engine bake's two engine calls: the base's exact config read, and the baked config loaded.

A bake is a config edit (`baker.image.oci.bake_config`, the registry road's own code): the
engine's part is to hand over the base's config and to take the baked one in, over the layers it
already holds.  No build step, no intermediate image, nothing written into a history but the
archive's own config.

- **The base's config** is read from `docker save` (`GET /images/{id}/get`) of the base's image
  id, the stream read only as far as the config file (`<id hex>.json` from moby's classic store,
  `blobs/sha256/<id hex>` from an OCI-layout archive) and then closed; its sha256 must be the
  image id.  The inspect API does not serve the config as stored (history timestamps in seconds,
  no `author`, no `empty_layer`), so a reconstruction would change the base's history.  Cost: moby
  writes every layer of the image into its own temporary directory before the first byte streams,
  so the read costs about what a `docker save` of the base costs on the engine (ARCHITECTURE.md).
- **The load** (`POST /images/load`) takes an archive built in memory: the baked config and a
  `manifest.json` naming it with one layer path per `rootfs.diff_ids` entry.  moby's loader
  (image/tarexport/load.go) looks each layer's chain ID up first and reads a layer file only when
  the chain is missing, so an engine that holds the base needs no layer at all: the archive is a
  few KiB.  The engine answers with the image id, which is the config's digest: checked.
- **The load opened early** (`open_load`, by `image.bake.read_ahead` while the values resolve):
  moby unpacks a load through a helper it re-execs, started by the body's first bytes, which is
  most of a small load's cost.  The request goes with a first member holding nothing (an empty
  directory, `OPENED_LEAD`, which the loader ignores), and the rest of the archive when the bake
  hands it over (`load_config(opened=...)`); aborted before that, the engine creates nothing.
- **Engines that want every layer** (the containerd image store, opt-in since Docker 24: `docker
  info` shows `driver-type io.containerd.snapshotter.v1`) import an archive through containerd,
  which needs every blob.  There the base's `docker save` is streamed through into the load, its
  config, `manifest.json`, `index.json` and `repositories` replaced by the baked config and a
  `manifest.json` naming it (`full_layers=True`; tests force it on any engine).  Never a build.

The config holds the values: it is built in memory, handed to the SDK as bytes (or a generator),
never written to a file, logged or raised.  The engine unpacks the archive into its own temporary
directory while it loads (moby removes it when the load ends) and keeps the config in its image
store, as it keeps every image.
"""

from __future__ import annotations

import io
import json
import queue
import re
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import docker.errors
import requests.exceptions

from baker.errors import EngineError
from baker.image import oci
from baker.image.engine.client import DockerClient, client_or_connect, engine_errors
from baker.image.engine.stream import LineSink, consume

CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"
_LOADED = re.compile(r"Loaded image(?: ID)?: (sha256:[0-9a-f]{64})")
_CHUNK = 1024 * 1024
_DROPPED = ("manifest.json", "index.json", "oci-layout", "repositories")
# The `files:` layer's path in a load archive (no base layer file is named so).
FILES_LAYER = "baker-files/layer.tar"
# The first member of an opened load (`OpenedLoad`): an empty directory, which moby's loader
# ignores (it reads `manifest.json` and the files it names; a stream without one fails on it).
OPENED_LEAD = "baker-load/"


def wants_layers(*, client: DockerClient | None = None) -> bool:
    """True for an engine whose image store imports every blob of an archive (the containerd image
    store): `docker info`'s `DriverStatus` names the containerd snapshotter there."""
    client = client_or_connect(client)
    with engine_errors("asking the engine which image store it uses"):
        info = client.info()
    status = info.get("DriverStatus") or []
    for pair in status if isinstance(status, list) else ():
        if isinstance(pair, list | tuple) and len(pair) == 2 and pair[1] == CONTAINERD_SNAPSHOTTER:
            return True
    return False


class _Reader(io.RawIOBase):
    """A file over the SDK's chunk generator, for `tarfile`'s stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _config_names(image_id: str) -> tuple[str, ...]:
    hexdigest = image_id.removeprefix("sha256:")
    return (f"{hexdigest}.json", f"blobs/sha256/{hexdigest}")


def _save(client: DockerClient, image_id: str) -> Any:
    try:
        return client.api.get_image(image_id, chunk_size=_CHUNK)
    except docker.errors.NotFound:
        raise EngineError(
            f"the base image {image_id} left the engine while baker read it",
            hint="run the bake again (did something remove the base meanwhile?)",
        ) from None


def _check_id(image_id: str) -> None:
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", image_id):
        raise EngineError(f"the engine named the base image by an id baker cannot read: {image_id!r}")


def base_config(image_id: str, *, client: DockerClient | None = None) -> bytes:
    """The exact config of the image `image_id` (`sha256:...`), from the engine's `docker save`
    stream read only as far as the config, and checked against the id."""
    _check_id(image_id)
    client = client_or_connect(client)
    names = _config_names(image_id)
    with engine_errors("reading the base image's config (docker save)"):
        stream = _save(client, image_id)
        try:
            with tarfile.open(fileobj=io.BufferedReader(_Reader(iter(stream))), mode="r|") as archive:
                for member in archive:
                    if member.name.lstrip("./") in names and member.isfile():
                        data = archive.extractfile(member)
                        raw = data.read() if data is not None else b""
                        break
                else:
                    raw = None
        except tarfile.TarError:
            raise EngineError("the engine's docker save archive of the base image is not a tar") from None
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    if raw is None:
        raise EngineError(
            f"the engine's docker save archive of the base image holds no config for {image_id}"
        )
    if oci.digest_of(raw) != image_id:
        raise EngineError(f"the base config the engine sent does not match the image id {image_id}")
    return raw


def _member(name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    block = info.tobuf(format=tarfile.PAX_FORMAT)
    return block + data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)


def _manifest(config: oci.Blob, layers: Sequence[str], named: str | None = None) -> bytes:
    config_file = config.digest.removeprefix("sha256:") + ".json"
    tags = [named] if named is not None else None
    return json.dumps([{"Config": config_file, "RepoTags": tags, "Layers": list(layers)}]).encode()


def config_only_archive(
    config: oci.Blob, layer_count: int, files: bytes | None = None, named: str | None = None
) -> bytes:
    """The archive of a layer-less load: the baked config and a manifest naming it; the layer
    paths it names are not in it (the engine holds every chain already), but for the `files:`
    layer (`files`: its uncompressed tar, `baker.image.fileslayer`), which the engine has never
    seen: it is in the archive, last.  `named`: the one name the loaded image gets (the bake's
    lease, `tags.lease_name`), as moby's loader names an image its manifest tags."""
    layers = [f"layers/{i}/layer.tar" for i in range(layer_count)]
    name = config.digest.removeprefix("sha256:") + ".json"
    added = b""
    if files is not None:
        layers.append(FILES_LAYER)
        added = _member(FILES_LAYER, files)
    return (
        _member(name, config.data)
        + added
        + _member("manifest.json", _manifest(config, layers, named))
        + b"\0" * (2 * tarfile.BLOCKSIZE)
    )


def _full_archive(
    client: DockerClient, base_id: str, config: oci.Blob, files: bytes | None = None, named: str | None = None
) -> Iterator[bytes]:
    """The base's `docker save` streamed through, its config and index files replaced: the baked
    config and a `manifest.json` over the base's own layer files."""
    stream = _save(client, base_id)
    base_names = _config_names(base_id)
    layers: list[str] | None = None
    try:
        with tarfile.open(fileobj=io.BufferedReader(_Reader(iter(stream))), mode="r|") as archive:
            for member in archive:
                name = member.name.lstrip("./")
                if name == "manifest.json" and member.isfile():
                    data = archive.extractfile(member)
                    document = json.loads(data.read() if data is not None else b"null")
                    if not isinstance(document, list) or len(document) != 1:
                        raise EngineError(
                            "the base image's docker save archive has an unexpected manifest.json"
                        )
                    layers = [str(layer) for layer in document[0].get("Layers") or []]
                    continue
                if name in _DROPPED or name in base_names:
                    continue
                yield member.tobuf(format=tarfile.PAX_FORMAT)
                if member.isfile():
                    data = archive.extractfile(member)
                    assert data is not None
                    while chunk := data.read(_CHUNK):
                        yield chunk
                    yield b"\0" * (-member.size % tarfile.BLOCKSIZE)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    if layers is None:
        raise EngineError("the base image's docker save archive has no manifest.json")
    if files is not None:
        layers.append(FILES_LAYER)
        yield _member(FILES_LAYER, files)
    yield _member(config.digest.removeprefix("sha256:") + ".json", config.data)
    yield _member("manifest.json", _manifest(config, layers, named))
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


class _Aborted(Exception):
    """Ends an opened load's body before anything but its lead was sent."""


class OpenedLoad:
    """A layer-less `docker load` opened before the baked config exists (`open_load`), on a daemon
    thread: the request and the archive's first member (`OPENED_LEAD`, no value) go at once, and
    the rest of the archive (`config_only_archive`: the baked config, the `files:` layer, the
    manifest) when the bake hands it over (`load_config(opened=...)`).

    Why: moby unpacks a load through a helper process it re-execs (chrootarchive), started when
    the first bytes of the body arrive; that start is most of a small load's cost (~50-80 ms of
    ~55-90 ms here, more on a loaded machine), and it now happens while the values resolve.  The
    engine creates nothing before the manifest arrives: `abort` (a failed or stopped bake, or one
    that does not use it) cuts the body short, and moby's loader then finds no manifest and fails
    (its legacy route finds no image in the lead directory).  Nothing holding a value is sent
    before `hand_over`."""

    def __init__(self, client: DockerClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._rest: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._given = False  # the rest, or the abort, was handed to the body
        self._ended = False
        self._done = threading.Event()
        self.lines: list[str] = []
        self.error: str | None = None  # the engine's refusal, from its answer
        self.failure: BaseException | None = None  # the request's failure (an EngineError)
        self.lost = False  # that failure was the connection's (cut, reset): the load is made anew
        self._thread = threading.Thread(target=self._run, name="baker-engine-load", daemon=True)
        self._thread.start()

    def _body(self) -> Iterator[bytes]:
        info = tarfile.TarInfo(OPENED_LEAD)
        info.type = tarfile.DIRTYPE
        info.mode = 0o700
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        rest = self._rest.get()
        if rest is None:
            raise _Aborted
        yield rest

    def _run(self) -> None:
        try:
            with engine_errors("loading the baked image", hint="run again with --debug"):
                try:
                    stream = self._client.api.load_image(self._body(), quiet=True)
                    state = consume(stream if stream is not None else (), LineSink(self.lines.append))
                except (requests.exceptions.ConnectionError, ConnectionError):
                    self.lost = True
                    raise
            self.error = state.error
        except BaseException as exc:  # handed to `answer` (an abort's own is dropped there)
            self.failure = exc
        finally:
            with self._lock:
                self._ended = True
            self._done.set()

    def hand_over(self, rest: bytes) -> bool:
        """Send the rest of the archive; False (nothing sent) when the load is no longer open (its
        request failed or ended early, or it was aborted): the caller loads anew."""
        with self._lock:
            if self._given or self._ended:
                return False
            self._given = True
        self._rest.put(rest)
        return True

    def abort(self) -> None:
        """End the body before the rest (no-op once handed over): the engine loads nothing."""
        with self._lock:
            if self._given:
                return
            self._given = True
        self._rest.put(None)

    def wait(self) -> None:
        """Until the engine's answer was read to its end, or the request failed.  A stop signal
        raises while this waits, wherever the caller's region lets it."""
        while not self._done.wait(0.05):
            pass


def open_load(client: DockerClient) -> OpenedLoad:
    """Open a layer-less load now (`OpenedLoad`); hand it the rest with `load_config(opened=)`."""
    return OpenedLoad(client)


def load_config(
    config: oci.Blob,
    *,
    base_id: str,
    layer_count: int,
    full_layers: bool,
    client: DockerClient | None = None,
    answered: Callable[[], None] | None = None,
    files: bytes | None = None,
    opened: OpenedLoad | None = None,
    named: str | None = None,
) -> str:
    """Load `config` (the baked config) over the base's layers; the new image's id, which is the
    config's digest.  `full_layers`: stream the base's layers in too (`wants_layers`).  `files`:
    the `files:` layer's tar (it holds values), loaded as one more layer, whose diff_id the config
    names last.  `opened`: a layer-less load opened earlier (`open_load`), handed the archive when
    it is still open (else aborted, and the load made anew).  `named`: the one name the load gives
    the image (the bake's lease): the engine's answer then names it instead of the id, and the
    id is proven by the first call that names the image by it (the tag).
    `answered` is called once the engine's answer was read to its end (whatever it said): from then
    on the engine is done with the load, so an undo need not wait for it."""
    _check_id(base_id)
    client = client_or_connect(client)
    lines: list[str] = []
    error: str | None = None
    handed = (
        opened is not None
        and not full_layers
        and opened.hand_over(config_only_archive(config, layer_count, files, named))
    )
    if handed and opened is not None:
        opened.wait()
        if opened.failure is not None and not opened.lost:
            raise opened.failure
        lines, error = opened.lines, opened.error
    if not handed or (opened is not None and opened.lost):
        # Not opened, no longer open, or its connection cut as the archive went: loaded anew.  The
        # same archive makes the same image (its id is the config's digest, its name the lease),
        # whether or not the engine had the first whole: never a second one.
        if opened is not None:
            opened.abort()
        lines = []
        data: bytes | Iterator[bytes] = (
            _full_archive(client, base_id, config, files, named)
            if full_layers
            else config_only_archive(config, layer_count, files, named)
        )
        with engine_errors("loading the baked image", hint="run again with --debug"):
            stream = client.api.load_image(data, quiet=True)
            error = consume(stream if stream is not None else (), LineSink(lines.append)).error
    if answered is not None:
        answered()
    if error is not None:
        if not full_layers and _gone(client, base_id):
            # The load is layer-less: the layers are the base's, read before the values resolved.
            raise EngineError(
                f"the engine refused the baked image: the base image {base_id} is gone (removed while "
                "the values resolved?); nothing was tagged",
                hint="run the build again (it reads the base anew); keep the base while bakes run "
                "(a `docker image prune` or `docker rmi` removes it)",
            )
        raise EngineError(
            f"the engine refused the baked image: {error}",
            hint="the engine may want every layer in the archive (a containerd image store); "
            "`docker info` shows which store it uses",
        )
    loaded = {m.group(1) for line in lines for m in [_LOADED.search(line)] if m is not None}
    if loaded == {config.digest}:
        return config.digest
    if not loaded and named is not None and f"Loaded image: {named}" in lines:
        return config.digest
    if not loaded:  # an engine that does not say which: ask it
        with engine_errors("inspecting the baked image"):
            try:
                client.api.inspect_image(config.digest)
                return config.digest
            except docker.errors.NotFound:
                pass
    named = ", ".join(sorted(loaded)) or "no image"
    raise EngineError(
        f"the engine loaded {named}, not the baked config {config.digest}",
        hint="report this with `docker version` and `docker info`",
    )


def _gone(client: DockerClient, image_id: str) -> bool:
    """Whether the engine no longer has `image_id` (an engine that cannot say: not gone)."""
    try:
        client.api.inspect_image(image_id)
    except docker.errors.NotFound:
        return True
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False
    return False


__all__ = [
    "CONTAINERD_SNAPSHOTTER",
    "FILES_LAYER",
    "OPENED_LEAD",
    "OpenedLoad",
    "base_config",
    "config_only_archive",
    "load_config",
    "open_load",
    "wants_layers",
]

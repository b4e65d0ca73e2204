"""Docker fixtures: a real engine, and base images made with `docker import` (no registry, no pull).

- `docker_client`: `docker.from_env()`, pinged; `unavailable(...)` when there is no engine.
- `busybox_base`: `baker-test/busybox:1`, a rootfs of Debian's static busybox with an entrypoint,
  command, working directory, user and one ENV that a bake must keep.  Imported under a file lock
  per engine, so pytest-xdist's workers (and other suites on the same engine) import it once: a
  second import would move the tag to a new image id under a test that is using the first.
- `image_names`: unique `baker-test/t-<uuid>` names for one test; every image they name, and every
  image id the test hands to `track`, is removed at teardown.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable

BUSYBOX = Path("/bin/busybox")
BASE_REPOSITORY = "baker-test/busybox"
BASE_TAG = "1"
BASE = f"{BASE_REPOSITORY}:{BASE_TAG}"
BASE_ENTRYPOINT = ["/bin/sh", "-c"]
BASE_CMD = ["env"]
BASE_WORKDIR = "/srv"
BASE_USER = "1000:1000"
APPLETS = ("sh", "env", "cat", "ls", "id", "sleep", "echo", "printf", "test", "true", "false")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # any failure to reach an engine means "no Docker here"
        unavailable(f"no Docker engine reachable: {type(exc).__name__}")
    yield client
    client.close()


def rootfs() -> bytes:
    if not BUSYBOX.is_file():
        unavailable(f"{BUSYBOX} (Debian's busybox-static) is not installed")
    data = BUSYBOX.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "srv", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
    return buffer.getvalue()


def _is_our_base(client: Any) -> bool:
    import docker.errors

    try:
        config = client.api.inspect_image(BASE)["Config"] or {}
    except docker.errors.NotFound:
        return False
    return (
        config.get("Entrypoint") == BASE_ENTRYPOINT
        and config.get("Cmd") == BASE_CMD
        and config.get("WorkingDir") == BASE_WORKDIR
        and config.get("User") == BASE_USER
        and config.get("Env") == ["KEEP=me"]
    )


@pytest.fixture(scope="session")
def busybox_base(docker_client: Any) -> str:
    """`baker-test/busybox:1`, imported once (kept between sessions: other suites share it)."""
    with _engine_lock("busybox-base"):
        if not _is_our_base(docker_client):
            changes = [
                f"ENTRYPOINT {json.dumps(BASE_ENTRYPOINT)}",
                f"CMD {json.dumps(BASE_CMD)}",
                f"WORKDIR {BASE_WORKDIR}",
                f"USER {BASE_USER}",
                "ENV KEEP=me",
            ]
            docker_client.api.import_image_from_data(
                rootfs(), repository=BASE_REPOSITORY, tag=BASE_TAG, changes=changes
            )
    return BASE


@contextlib.contextmanager
def _engine_lock(what: str) -> Iterator[None]:
    """An exclusive lock on `what` for this engine (its DOCKER_HOST), across processes."""
    engine = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    key = hashlib.sha256(f"{engine} {what}".encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"baker-test-{key}.lock"
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ImageNames:
    """Unique image names for one test, and the images to remove afterwards."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.prefix = f"baker-test/t-{uuid.uuid4().hex[:12]}"
        self.names: list[str] = []
        self.ids: list[str] = []

    def __call__(self, suffix: str = "app", tag: str = "baked") -> str:
        name = f"{self.prefix}-{suffix}:{tag}"
        self.names.append(name)
        return name

    def track(self, image_id: str) -> str:
        self.ids.append(image_id)
        return image_id

    def exists(self, ref: str) -> bool:
        import docker.errors

        try:
            self.client.api.inspect_image(ref)
        except docker.errors.NotFound:
            return False
        return True

    def image_id(self, ref: str) -> str:
        return str(self.client.api.inspect_image(ref)["Id"])

    def holding(self, value: str) -> list[str]:
        """Ids of every image (intermediate ones too) whose Env holds `value`."""
        import docker.errors

        found = []
        for image in self.client.api.images(all=True, quiet=True):
            try:
                env = self.client.api.inspect_image(image)["Config"].get("Env") or []
            except docker.errors.NotFound:
                continue  # removed meanwhile
            if any(value in item for item in env):
                found.append(image)
        return found

    def cleanup(self) -> None:
        import docker.errors

        for ref in [*self.names, *reversed(self.ids)]:
            try:
                self.client.api.remove_image(ref, force=True)
            except docker.errors.APIError:
                continue


@pytest.fixture
def image_names(docker_client: Any) -> Iterator[ImageNames]:
    names = ImageNames(docker_client)
    yield names
    names.cleanup()

"""Naming the bake's output: tags recorded before the engine moves them (`restore_tags` puts them
back), the lease that marks an image still being committed, and the push."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import docker.errors

from baker import imageref, signals
from baker.errors import EngineError
from baker.image.engine.client import (
    ENGINE_FAILURES,
    DockerClient,
    client_or_connect,
    engine_errors,
    exists,
    full_id,
    inspect_image,
)
from baker.image.engine.stream import LineSink, consume
from baker.image.engine.types import TagUndo
from baker.record import Record


def tag(image_id: str, tags: Sequence[str], *, client: DockerClient | None = None) -> TagUndo:
    """Point every name in `tags` at `image_id`; on failure, put back what was already moved."""
    client = client_or_connect(client)
    done: list[tuple[str, str | None]] = []
    try:
        # Signals wait for the few tag calls; each name is recorded before the engine moves it, so
        # whatever stops the loop, `restore_tags` knows every name that may have moved.  Inside a
        # bake's commit the bake decides what a stop means; alone, it is raised once all are tagged.
        with signals.held():
            for name in tags:
                before = inspect_image(name, client=client)
                done.append((name, before.id if before is not None else None))
                repository, label = imageref.repository_and_tag(name)
                with engine_errors(f"tagging {name}"):
                    client.api.tag(image_id, repository, label or "latest", force=True)
    except BaseException:
        restore_tags(tuple(done), image_id, client=client)
        raise
    return tuple(done)


def restore_tags(undo: TagUndo, image_id: str, *, client: DockerClient | None = None) -> None:
    """Best effort: each tag that still names `image_id` back where it pointed before (or gone, when
    it did not exist).  A tag something else moved meanwhile (another bake of the same name) is
    left alone: putting it back would drop that bake's image."""
    client = client_or_connect(client)
    mine = full_id(client, image_id) if exists(client, image_id) else image_id
    for name, previous in reversed(undo):
        try:
            current = inspect_image(name, client=client)
            if current is None or current.id != mine:
                continue
            repository, label = imageref.repository_and_tag(name)
            if previous is not None and exists(client, previous):
                client.api.tag(previous, repository, label or "latest", force=True)
            else:
                # Only the name goes: the bake's lease still names the image (see `lease`), and
                # the bake's clean-up removes it.
                client.api.remove_image(name, noprune=True)
        except ENGINE_FAILURES:
            continue


LEASE_REPOSITORY = "baker-bake-in-progress"


def lease_name() -> str:
    """A new name for a bake's output while the bake commits (tags, pushes, removes what it
    superseded): `baker-bake-in-progress:<bake id>`, given by the load itself (`load_config(named=)`,
    so the image is never without a name of baker's).  Another bake of the same tags then sees the
    image named and never removes it as superseded, and untagging a name never deletes it;
    `release` ends it."""
    return f"{LEASE_REPOSITORY}:{uuid.uuid4().hex}"


class Released(Record):
    """How `release` ended: whether the bake's image stays (another name holds it), and whether
    its lease name is gone."""

    image_stays: bool
    name_dropped: bool


def release(image_id: str, name: str, *, client: DockerClient | None = None) -> Released:
    """End the lease `name` on the bake's output.  When the lease was its last name (another bake
    moved every tag of ours meanwhile), the image goes with it: the engine's answer to the removal
    says so (a `Deleted` entry), so no inspect before or after is needed.  Best effort: when the
    removal fails, the engine is asked what is left."""
    try:
        client = client_or_connect(client)
        answer = client.api.remove_image(name, noprune=True)
    except docker.errors.NotFound:  # the name is gone already: does the image stay?
        return Released(image_stays=client is not None and _exists(client, image_id), name_dropped=True)
    except ENGINE_FAILURES:
        # No engine at all (connect failed): unsure, so the image counts as gone and the name as kept.
        if client is None:
            return Released(image_stays=False, name_dropped=False)
        return Released(image_stays=_exists(client, image_id), name_dropped=not _exists(client, name))
    deleted = {str(item.get("Deleted")) for item in answer or () if isinstance(item, dict)}
    return Released(image_stays=image_id not in deleted, name_dropped=True)


def _exists(client: DockerClient, ref: str) -> bool:
    """`exists`, best effort: an engine that cannot say counts as no."""
    try:
        return exists(client, ref)
    except ENGINE_FAILURES:
        return False


def push(name: str, on_line: Callable[[str], None], *, client: DockerClient | None = None) -> str:
    """Push `name` with the user's own registry credentials (their docker config); the digest."""
    client = client_or_connect(client)
    repository, label = imageref.repository_and_tag(name)
    login = f"docker login {imageref.registry_host(repository)}".rstrip()
    with engine_errors(f"pushing {name}", hint=f"check the registry address; {login}"):
        stream = client.api.push(repository, tag=label or "latest", stream=True, decode=True)
        state = consume(stream, LineSink(on_line))
    if state.error is not None:
        lowered = state.error.lower()
        auth = any(w in lowered for w in ("unauthorized", "authentication", "denied", "credentials"))
        hint = f"sign in first: {login}" if auth else f"check the registry address and that it is up; {login}"
        raise EngineError(f"pushing {name} failed: {state.error}", hint=hint)
    if state.digest is None:
        raise EngineError(f"pushing {name} reported no digest", hint="run again with --debug")
    return state.digest

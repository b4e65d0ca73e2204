"""Removing what a bake made: the image it loaded (a failed or stopped bake), the baked image a
re-bake superseded (with its step images, when baker 0.1's classic builder baked it), and an image
baker built.  Best effort throughout; which images qualify is decided by the pure rules in
`steps.py`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Literal

import docker.errors
import requests.exceptions

from baker.image.engine.client import (
    ENGINE_FAILURES,
    DockerClient,
    client_or_connect,
    exists,
    inspect_image,
)
from baker.image.engine.steps import BAKE_ID_LABEL, BAKE_STEPS, HISTORY_PREFIX, is_bake_output


def remove_loaded(
    image_id: str,
    *,
    client: DockerClient | None = None,
    settle: float = 0.0,
    lease: str | None = None,
    unseen: Callable[[], None] | None = None,
) -> list[str]:
    """Remove the image a bake loaded (by its id, the baked config's digest), watching up to
    `settle` seconds for it when it is not there yet: a load baker stopped listening to (a second
    signal) may still be committing.  An image some name holds is left (a user's tag, another
    bake's lease), bar the bake's own `lease`.  What the engine refused to remove: [] or
    [image_id]; `unseen` is called when the image never appeared (a load still committing may
    bring it later: rte-3).  Best effort."""
    deadline = time.monotonic() + settle
    try:
        client = client_or_connect(client)
        while True:
            info = inspect_image(image_id, client=client)
            if info is not None:
                if [name for name in info.repo_tags if name != lease]:
                    return []
                try:
                    client.api.remove_image(image_id, noprune=True)
                except docker.errors.NotFound:
                    return []
                except (docker.errors.DockerException, requests.exceptions.RequestException):
                    return [image_id]
                return []
            if time.monotonic() >= deadline:
                if unseen is not None:
                    unseen()
                return []
            time.sleep(0.1)
    except ENGINE_FAILURES:
        return [image_id] if exists_quietly(client, image_id) else []


def exists_quietly(client: DockerClient | None, image_id: str) -> bool:
    with contextlib.suppress(*ENGINE_FAILURES):
        return client is not None and exists(client, image_id)
    return False


Superseded = Literal["removed", "kept", "refused"]


def remove_superseded(image_id: str, label: str, *, client: DockerClient | None = None) -> Superseded:
    """Remove a bake's output that a re-bake superseded, when it is untagged and truly a bake's
    output: its last history step is the bake's (an image someone built FROM it inherits the
    label, but not that step).  One image since the bake is a config edit; one baked by baker
    0.1's classic builder takes its own steps with it (the ENV step holds the old values): parents
    removed only while they carry the same bake-id; never the base.  An image with any
    name is "kept": a user's tag, or the lease of a bake still committing it (see `lease`).
    "refused": the engine would not remove it (a container uses it).  Best effort."""
    try:
        client = client_or_connect(client)
        history = client.api.history(image_id)
        last = str(history[0].get("CreatedBy", "")) if history else ""
        if not is_bake_output(last, label):
            return "kept"
        chain: list[str] = []
        current, bake_id = image_id, None
        if last.startswith(HISTORY_PREFIX):  # a config edit: one image, nothing under it of the bake's
            data = client.api.inspect_image(image_id)
            labels = (data.get("Config") or {}).get("Labels") or {}
            if data.get("RepoTags") or label not in labels:
                return "kept"
            chain.append(data["Id"])
        for _ in range(BAKE_STEPS if not chain else 0):
            data = client.api.inspect_image(current)
            labels = (data.get("Config") or {}).get("Labels") or {}
            mark = labels.get(BAKE_ID_LABEL)
            if data.get("RepoTags") or mark is None or (bake_id is not None and mark != bake_id):
                break
            bake_id = mark
            chain.append(data["Id"])
            current = data.get("Parent") or ""
            if not current:
                break
        # The history and the inspects read one image (the history's top entry names its id):
        # no second inspect of `image_id` is needed to rule out a name that moved between them.
        if not chain or chain[0] != history[0].get("Id"):
            return "kept"
    except docker.errors.NotFound:
        return "removed"  # gone already (another bake's clean-up took it)
    except ENGINE_FAILURES:
        return "kept"
    for step in chain:  # the output first, then its own steps down to the base
        try:
            client.api.remove_image(step, noprune=True)
        except docker.errors.NotFound:
            continue
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return "refused"
    return "removed"


def remove_image(
    image_id: str, *, client: DockerClient | None = None, only_untagged: bool = True, noprune: bool = False
) -> bool:
    """Best effort removal of an image baker built; True when it went.  An image some tag points
    at is left alone (a fully cached build returns an existing, possibly tagged, image)."""
    try:
        client = client_or_connect(client)
        if only_untagged:
            info = inspect_image(image_id, client=client)
            if info is None or info.repo_tags:
                return False
        client.api.remove_image(image_id, noprune=noprune)
    except ENGINE_FAILURES:
        return False
    return True

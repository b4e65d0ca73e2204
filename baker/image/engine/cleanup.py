"""Removing what a bake made: its own steps (by their bake-id label, whatever the build stream
reported), the baked image a re-bake superseded, and an image baker built.  Best effort throughout;
which images qualify is decided by the pure rules in `steps.py`."""

from __future__ import annotations

import contextlib
import time
from typing import Literal

import docker.errors
import requests.exceptions

from baker.image.engine.client import (
    ENGINE_FAILURES,
    DockerClient,
    client_or_connect,
    exists,
    full_id,
    inspect_image,
)
from baker.image.engine.steps import BAKE_STEPS, Facts, is_bake_output, own_steps
from baker.provenance import BAKE_ID_LABEL


def remove_labelled(
    label: str, value: str, *, base: str, client: DockerClient | None = None, rounds: int = 20
) -> int:
    """Remove the images of one bake (labelled `label=value`), children before parents, until the
    engine shows none twice in a row: an interrupted build may still commit a step or two after baker
    stopped listening.  Only the bake's own steps count: images within `BAKE_STEPS` of `base` along
    labelled parents, and never a tagged one (someone else's build FROM a baked image inherits the
    label, and so do its children).  Best effort and bounded (about 5 s); the number removed."""
    removed = 0
    quiet = 0
    try:
        client = client_or_connect(client)
        for _ in range(rounds):
            own = _own_steps(client, label, value, base)
            if not own:
                quiet += 1
                if quiet >= 2:
                    break
                time.sleep(0.25)
                continue
            quiet = 0
            for image_id in reversed(own):  # deepest (children) first
                with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
                    client.api.remove_image(image_id, noprune=True)
                    removed += 1
            time.sleep(0.1)
    except ENGINE_FAILURES:
        pass
    return removed


def _own_steps(client: DockerClient, label: str, value: str, base: str) -> list[str]:
    """This bake's own images, parents first (see `builder_cleanup.own_steps`)."""
    found = client.api.images(all=True, quiet=True, filters={"label": f"{label}={value}"})
    facts: dict[str, Facts] = {}
    for image_id in found:
        with contextlib.suppress(docker.errors.NotFound):
            data = client.api.inspect_image(image_id)
            facts[data["Id"]] = Facts(parent=data.get("Parent") or "", tagged=bool(data.get("RepoTags")))
    return own_steps(facts, base, lambda image_id: exists(client, image_id))


Superseded = Literal["removed", "kept", "refused"]


def remove_superseded(image_id: str, label: str, *, client: DockerClient | None = None) -> Superseded:
    """Remove a bake's output that a re-bake superseded, and the bake's own steps under it (the ENV
    step holds the old values), when it is untagged and truly a bake's output: its last step set the
    provenance `label` (an image someone built FROM it inherits the label, but not that step).
    Parents are removed only while they carry the same bake-id; never the base.  An image with any
    name is "kept": a user's tag, or the lease of a bake still committing it (see `lease`).
    "refused": the engine would not remove it (a container uses it).  Best effort."""
    try:
        client = client_or_connect(client)
        history = client.api.history(image_id)
        if not history or not is_bake_output(str(history[0].get("CreatedBy", "")), label):
            return "kept"
        chain: list[str] = []
        current, bake_id = image_id, None
        for _ in range(BAKE_STEPS):
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
        if not chain or chain[0] != full_id(client, image_id):
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


def leftovers(label: str, value: str, *, base: str, client: DockerClient | None = None) -> list[str]:
    """The bake's own images that are still there (the engine refused to remove them: a container
    uses one), parents first; best effort, [] when the engine cannot say."""
    try:
        return _own_steps(client_or_connect(client), label, value, base)
    except ENGINE_FAILURES:
        return []


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

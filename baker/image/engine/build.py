"""Building on the engine: the bake's image (untagged, from the Dockerfile alone) and the user's app
image, and the base pulled when it is not local.

- Images are built untagged and tagged only when everything succeeded (`tags.py`), so a failed bake
  creates or moves no tag.
- The bake's build context is the Dockerfile alone, tarred in memory: nothing else is needed, and
  whatever else sits in a directory (a rendered docker-bake.json holds the values) must not travel
  to the engine, which would unpack it into its own tmp.
- A failed or stopped bake removes every image it made (`cleanup.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from baker import imageref, signals
from baker.errors import EngineError
from baker.image.engine.cleanup import remove_image, remove_labelled
from baker.image.engine.client import DockerClient, client_or_connect, engine_errors, inspect_image
from baker.image.engine.request import check_query_size, dockerfile_only_context
from baker.image.engine.stream import LineSink, StreamState, consume
from baker.image.engine.types import ImageInfo
from baker.provenance import BAKE_ID_LABEL
from baker.secret import REDACTOR, Secret


def build_image(
    context_dir: Path,
    *,
    build_args: Mapping[str, Secret | str],
    labels: Mapping[str, str],
    on_line: Callable[[str], None],
    dockerfile: str = "Dockerfile",
    target: str | None = None,
    network_mode: str | None = "none",
    dockerfile_only: bool = False,
    bake: tuple[str, str] | None = None,
    client: DockerClient | None = None,
) -> str:
    """Build an untagged image and return its id, streaming redacted output lines to `on_line`.

    `bake` is (bake id, base image id): the bake's Dockerfile labels every image with the id before
    any value, so a failed or interrupted bake removes every image it made on that base, even those
    the stream never reported (a second Ctrl-C, a SIGTERM from a cancelled CI job).

    `dockerfile_only` is the bake: the Dockerfile alone is the context (nothing else is needed, and
    nothing else in the directory may travel), a stop signal waits the few seconds until the engine
    is done, and on any failure every image the build made is removed.  Otherwise the directory is
    sent as `docker build` would, `.dockerignore` honoured.
    """
    args: dict[str, str] = {}
    for name, value in build_args.items():
        if isinstance(value, Secret):
            REDACTOR.register(value, label=name)  # defensive: the resolver registers values first
            text = value.reveal()
        else:  # a literal from the manifest (or an app build arg): lives in git, not a secret
            text = value
        args[name] = text
    check_query_size(args, labels)
    client = client_or_connect(client)
    sink = LineSink(on_line)
    state = StreamState()
    kwargs: dict[str, Any] = {
        "buildargs": args,
        "labels": dict(labels),
        "target": target,
        "network_mode": network_mode,
        "decode": True,
        "rm": True,
        "forcerm": True,
        "pull": False,
        "timeout": None,  # a silent RUN step may take longer than the client's 60 s read timeout
    }
    if dockerfile_only:
        kwargs.update(
            fileobj=dockerfile_only_context(Path(context_dir), dockerfile),
            custom_context=True,
            dockerfile=dockerfile,
            use_config_proxy=False,
        )
    else:
        kwargs.update(path=str(context_dir), dockerfile=dockerfile)
    stream: Any = None
    try:
        # The bake takes seconds: hold Ctrl-C until the engine is done, so that every image it
        # made (after the ENV step they hold values) is known and removed before baker exits.
        # A second signal stops it at once, so a hung engine never traps the user (the clean-up
        # below then finds the bake's images by their label).
        with (
            signals.held(escape=2) if dockerfile_only else contextlib.nullcontext() as interrupted,
            engine_errors("the build", hint="check the Dockerfile and the build context"),
        ):
            stream = client.api.build(**kwargs)
            consume(stream, sink, state=state)
        if interrupted is not None and interrupted.stopped:
            raise KeyboardInterrupt
        if state.error is not None:
            where = f" at {state.last_step}" if state.last_step else ""
            raise EngineError(f"the build failed{where}: {state.error}", hint=_build_hint(state.error))
        image_id = state.image_id or state.short_id
        if image_id is None:
            raise EngineError("the build ended without an image id", hint="run again with --debug")
    except BaseException:
        # The bake's step images hold values: find and remove them all.  An app build's are its
        # build cache (no values), left to the engine as `docker build` leaves them.
        if dockerfile_only:
            if stream is not None and state.error is None:
                _drain(stream, state)
            made = [*state.produced, *([state.image_id] if state.image_id else [])]
            # Children first, one at a time (noprune), so the base (maybe an untagged app image) stays.
            with signals.held(escape=3, resume=False):  # more signals must not cut it short
                for layer in reversed(made):
                    remove_image(layer, client=client, noprune=True)
                if bake is not None:
                    remove_labelled(BAKE_ID_LABEL, bake[0], base=bake[1], client=client)
        raise
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    if state.image_id is None:  # only the short id was printed: ask for the full one
        info = inspect_image(image_id, client=client)
        image_id = info.id if info is not None else image_id
    return image_id


def _drain(stream: Any, state: StreamState) -> None:
    """Read what the engine still sends (when `on_line` raised, the stream is still open), so the
    images made after we stopped listening are known too.  Best effort."""
    with contextlib.suppress(Exception):  # cleanup must not mask the original exception
        consume(stream, LineSink(lambda line: None), state=state)


def _build_hint(error: str) -> str:
    lowered = error.lower()
    if "pull access denied" in lowered or "not found" in lowered or "no such image" in lowered:
        return "the base image is missing: `docker pull` it, or check image.from / the FROM line"
    return "see the build output above for the failing step"


def ensure_image(
    ref: str, on_line: Callable[[str], None], *, client: DockerClient | None = None
) -> ImageInfo:
    """`ref` from the engine, pulled first when it is not local, as `docker build` does, with the
    user's own registry credentials (their docker config)."""
    client = client_or_connect(client)
    info = inspect_image(ref, client=client)
    if info is not None:
        return info
    repository, label = imageref.repository_and_tag(ref)
    hint = f"check image.from in the manifest, or `docker pull {ref}`; for a private registry: docker login"
    registry = imageref.registry_host(repository)
    if registry:
        hint += f" {registry}"
    on_line(f"pulling the base image {ref}")
    with engine_errors(f"pulling the base image {ref}", hint=hint):
        stream = client.api.pull(repository, tag=label or "latest", stream=True, decode=True)
        state = consume(stream, LineSink(on_line))
    if state.error is not None:
        raise EngineError(
            f"the base image {ref} is not local and pulling it failed: {state.error}", hint=hint
        )
    info = inspect_image(ref, client=client)
    if info is None:
        raise EngineError(f"the base image {ref} is not in the engine after pulling it", hint=hint)
    return info

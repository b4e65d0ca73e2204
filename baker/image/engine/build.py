"""Building on the engine: the user's app image (`image.build`, untagged; the bake itself is a
config edit, `load.py`), and the base pulled when it is not local."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from baker import imageref
from baker.errors import EngineError
from baker.image.engine.client import DockerClient, client_or_connect, engine_errors, inspect_image
from baker.image.engine.request import check_query_size
from baker.image.engine.stream import LineSink, StreamState, consume
from baker.image.engine.types import ImageInfo
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
    client: DockerClient | None = None,
) -> str:
    """Build an untagged image from `context_dir` as `docker build` would (`.dockerignore`
    honoured) and return its id, streaming redacted output lines to `on_line`."""
    args: dict[str, str] = {}
    for name, value in build_args.items():
        args[name] = value.reveal() if isinstance(value, Secret) else value
        if isinstance(value, Secret):
            REDACTOR.register(value, label=name)
    check_query_size(args, labels)
    client = client_or_connect(client)
    sink = LineSink(on_line)
    state = StreamState()
    stream: Any = None
    try:
        with engine_errors("the build", hint="check the Dockerfile and the build context"):
            stream = client.api.build(
                path=str(context_dir),
                dockerfile=dockerfile,
                buildargs=args,
                labels=dict(labels),
                target=target,
                network_mode=network_mode,
                decode=True,
                rm=True,
                forcerm=True,
                pull=False,
                timeout=None,  # a silent RUN step may take longer than the client's 60 s read timeout
            )
            consume(stream, sink, state=state)
        if state.error is not None:
            where = f" at {state.last_step}" if state.last_step else ""
            raise EngineError(f"the build failed{where}: {state.error}", hint=_build_hint(state.error))
        image_id = state.image_id or state.short_id
        if image_id is None:
            raise EngineError("the build ended without an image id", hint="run again with --debug")
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    if state.image_id is None:  # only the short id was printed: ask for the full one
        info = inspect_image(image_id, client=client)
        image_id = info.id if info is not None else image_id
    return image_id


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

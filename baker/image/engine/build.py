"""The Docker engine: build, tag, push, inspect.  The only module that imports `docker` (its
helpers `builder_stream` and `builder_request` are pure); every docker exception becomes an
`EngineError` here.

Three things shape it:

- Build arguments (every value) travel in the build request's query string, and docker-py's
  `APIError` and requests' connection errors quote that URL.  So no third-party message is ever
  passed on whole: messages are rebuilt from the status code and the engine's own explanation,
  redacted and stripped of URLs, and raised `from None` so no traceback chains back to them.
- Images are built untagged and tagged only when everything succeeded, so a failed bake creates
  or moves no tag; `tag` records what each name pointed at so `restore_tags` can undo it.
- The bake's build context is the Dockerfile alone, tarred in memory: nothing else is needed, and
  whatever else sits in a directory (a rendered docker-bake.json holds the values) must not travel
  to the engine, which would unpack it into its own tmp.

Clients are injectable (`client=`); by default `connect()` makes one from the environment
(DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_CONFIG), as the docker CLI would.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions
from docker.auth import INDEX_NAME, load_config, resolve_repository_name
from docker.utils import parse_repository_tag

from baker import signals
from baker.errors import EngineError
from baker.image.engine.request import check_query_size, dockerfile_only_context
from baker.image.engine.steps import BAKE_STEPS, Facts, is_bake_output, own_steps
from baker.image.engine.stream import LineSink, StreamState, clean, consume
from baker.image.engine.types import ImageInfo, Pushed, PushIncomplete, TagUndo
from baker.provenance import BAKE_ID_LABEL
from baker.secret import REDACTOR, Secret

_START_ENGINE = (
    "start Docker (or dockerd), or point DOCKER_HOST at a running engine "
    "(with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for a TLS one)"
)


def connect() -> Any:
    """A client for the engine the environment names, proven reachable."""
    with _engine_errors("connecting to the Docker engine"):
        client = docker.from_env()
        # Helpers run for pulls, builds and pushes get no credential of baker's.  Set here, not as
        # from_env's credstore_env, which docker-py 7.2 documents but passes on nowhere.
        client.api.credstore_env = HELPER_ENVIRONMENT
        client.api.reload_config()
        client.ping()
    return client


def _client(client: Any) -> Any:
    return client if client is not None else connect()


@contextmanager
def _engine_errors(doing: str, *, hint: str | None = None) -> Iterator[None]:
    """Translate docker/requests exceptions raised while `doing` into EngineError, URL-free."""
    try:
        yield
    except docker.errors.APIError as exc:
        status = exc.status_code
        explanation = clean(str(exc.explanation or ""))
        reason = f"the engine answered {status}" if status else "the engine refused"
        message = f"{doing} failed: {reason}" + (f": {explanation}" if explanation else "")
        raise EngineError(message, hint=hint) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise EngineError(
            f"{doing} failed: lost the connection to the Docker engine ({type(exc).__name__})",
            hint=_START_ENGINE,
        ) from None
    except (
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.HTTPError,
        http.client.HTTPException,
    ) as exc:
        # The answer was cut mid-way (the engine restarted or was killed, a proxy dropped the
        # connection): docker-py reads a streamed answer from urllib3 itself, unwrapped by requests.
        # The type's name only: a ReadTimeoutError's message quotes the request URL.
        raise EngineError(
            f"{doing} failed: lost the connection to the Docker engine mid-way ({type(exc).__name__})",
            hint="check that the engine is still running (`docker info`), then run again",
        ) from None
    except docker.errors.StreamParseError:  # a RuntimeError, not a DockerException
        raise EngineError(f"{doing} failed: the engine's answer was cut short", hint=hint) from None
    except docker.errors.DockerException as exc:
        # from_env's "Error while fetching server API version: ..." names the socket, not a value.
        raise EngineError(f"{doing} failed: {clean(str(exc))}", hint=_START_ENGINE) from None
    except requests.exceptions.RequestException as exc:
        raise EngineError(f"{doing} failed: {type(exc).__name__}", hint=hint) from None


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
    client: Any = None,
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
    client = _client(client)
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
            _engine_errors("the build", hint="check the Dockerfile and the build context"),
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


def engine_logs_requests(*, client: Any = None) -> bool:
    """True when the engine runs in debug mode, where it logs every request URL, and build args (the
    values) travel in the build request's URL.  Unknown (an error) counts as False."""
    try:
        return bool(_client(client).info().get("Debug"))
    except (EngineError, docker.errors.DockerException, requests.exceptions.RequestException):
        return False


def remove_labelled(label: str, value: str, *, base: str, client: Any = None, rounds: int = 20) -> int:
    """Remove the images of one bake (labelled `label=value`), children before parents, until the
    engine shows none twice in a row: an interrupted build may still commit a step or two after baker
    stopped listening.  Only the bake's own steps count: images within `BAKE_STEPS` of `base` along
    labelled parents, and never a tagged one (someone else's build FROM a baked image inherits the
    label, and so do its children).  Best effort and bounded (about 5 s); the number removed."""
    removed = 0
    quiet = 0
    try:
        client = _client(client)
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
    except (EngineError, docker.errors.DockerException, requests.exceptions.RequestException):
        pass
    return removed


def _own_steps(client: Any, label: str, value: str, base: str) -> list[str]:
    """This bake's own images, parents first (see `builder_cleanup.own_steps`)."""
    found = client.api.images(all=True, quiet=True, filters={"label": f"{label}={value}"})
    facts: dict[str, Facts] = {}
    for image_id in found:
        with contextlib.suppress(docker.errors.NotFound):
            data = client.api.inspect_image(image_id)
            facts[data["Id"]] = Facts(parent=data.get("Parent") or "", tagged=bool(data.get("RepoTags")))
    return own_steps(facts, base, lambda image_id: _exists(client, image_id))


def _exists(client: Any, image_id: str) -> bool:
    if not image_id:
        return False
    try:
        client.api.inspect_image(image_id)
    except docker.errors.NotFound:
        return False
    return True


Superseded = Literal["removed", "kept", "refused"]


def remove_superseded(image_id: str, label: str, *, client: Any = None) -> Superseded:
    """Remove a bake's output that a re-bake superseded, and the bake's own steps under it (the ENV
    step holds the old values), when it is untagged and truly a bake's output: its last step set the
    provenance `label` (an image someone built FROM it inherits the label, but not that step).
    Parents are removed only while they carry the same bake-id; never the base.  An image with any
    name is "kept": a user's tag, or the lease of a bake still committing it (see `lease`).
    "refused": the engine would not remove it (a container uses it).  Best effort."""
    try:
        client = _client(client)
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
        if not chain or chain[0] != _full_id(client, image_id):
            return "kept"
    except docker.errors.NotFound:
        return "removed"  # gone already (another bake's clean-up took it)
    except (EngineError, docker.errors.DockerException, requests.exceptions.RequestException):
        return "kept"
    for step in chain:  # the output first, then its own steps down to the base
        try:
            client.api.remove_image(step, noprune=True)
        except docker.errors.NotFound:
            continue
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return "refused"
    return "removed"


def _full_id(client: Any, ref: str) -> str:
    return str(client.api.inspect_image(ref)["Id"])


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


def inspect_image(ref: str, *, client: Any = None) -> ImageInfo | None:
    """The image's id, labels and run settings; None when the engine has no such image."""
    client = _client(client)
    with _engine_errors(f"inspecting {ref}"):
        try:
            data = client.api.inspect_image(ref)
        except docker.errors.NotFound:
            return None
    config = data.get("Config") or {}

    def _tuple(value: Any) -> tuple[str, ...] | None:
        return tuple(value) if isinstance(value, list) else None

    return ImageInfo(
        id=data["Id"],
        labels=dict(config.get("Labels") or {}),
        env=tuple(config.get("Env") or ()),
        entrypoint=_tuple(config.get("Entrypoint")),
        cmd=_tuple(config.get("Cmd")),
        workdir=config.get("WorkingDir") or "",
        user=config.get("User") or "",
        repo_tags=tuple(data.get("RepoTags") or ()),
        repo_digests=tuple(data.get("RepoDigests") or ()),
        onbuild=tuple(config.get("OnBuild") or ()),
        parent=data.get("Parent") or "",
    )


def _registry_of(repository: str) -> str:
    """The registry host of a repository by Docker's own rule ("" for Docker Hub)."""
    index, _ = resolve_repository_name(repository)
    return "" if index == INDEX_NAME else str(index)


# Variables that hold one of baker's own credentials, or the way to one.  A docker credential helper
# is a program baker (through docker-py) runs; it gets these blanked.
_CREDENTIAL_VARIABLES = frozenset(
    {
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_PASSWORD",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "SYSTEM_ACCESSTOKEN",
        "SYSTEM_OIDCREQUESTURI",
        "IDENTITY_HEADER",
        "MSI_SECRET",
    }
)


class _HelperEnvironment(Mapping[str, str]):
    """What docker-py lays over `os.environ` when it runs a credential helper (its `credstore_env`):
    every variable of baker's credentials, and every variable whose value the Redactor knows (a
    manifest credential's `${VAR}`, a value read), set to "".  docker-py copies the environment and
    updates it, so blanking is as far as it lets a caller go.  Computed each time a helper runs, so
    a value registered after the client was made counts too."""

    def _blanked(self, name: str, value: str) -> bool:
        return name in _CREDENTIAL_VARIABLES or (bool(value.strip()) and REDACTOR.redact(value) != value)

    def __getitem__(self, name: str) -> str:
        if name in os.environ and self._blanked(name, os.environ[name]):
            return ""
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, value in os.environ.items() if self._blanked(name, value)])

    def __len__(self) -> int:
        return sum(1 for _ in self)


HELPER_ENVIRONMENT: Mapping[str, str] = _HelperEnvironment()


def registry_login(registry: str) -> tuple[str, str, str, str]:
    """The user's credentials for `registry` (a host; "docker.io" for Docker Hub) by Docker's own
    rules, docker-py's: `credHelpers[registry]` over `credsStore` over `auths`, index names
    normalised, a helper's `<token>` user meaning an identity token.  Gives (helper, username,
    password, identity_token), "" for each part that is absent; `helper` is the credential helper
    the config names for the registry, tried or not, so a refusal can say which one.

    For `baker check`, which reads a registry without the engine: best effort, because the registry
    may well allow anonymous pulls.  A helper that is missing or fails, or a config docker-py cannot
    read, gives no credentials; docker-py's exception is dropped unread, since its message quotes
    the helper's output.  Every password and token is registered with the Redactor here."""
    helper, failure = "", ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # docker-py warns on stderr when a helper is not on PATH
            config = load_config(credstore_env=HELPER_ENVIRONMENT)  # helpers get no credential of baker's
            helper = str(config.get_credential_store(registry) or "")
            found = config.resolve_authconfig(registry) or {}
    except Exception as exc:  # docker-py raises many types here (config shape, helper output, OS)
        failure = type(exc).__name__
    if failure:
        # Logged outside the `except`: a failing log handler prints the exception being handled.
        logging.getLogger(__name__).debug("no registry credentials for %s (%s)", registry, failure)
        return helper, "", "", ""
    user = str(found.get("Username") or found.get("username") or "")
    password = str(found.get("Password") or found.get("password") or "")
    token = str(found.get("IdentityToken") or "")
    if password:
        REDACTOR.register(password, label=f"registry password for {registry}")
    if token:
        REDACTOR.register(token, label=f"registry identity token for {registry}")
    return helper, user, password, token


def ensure_image(ref: str, on_line: Callable[[str], None], *, client: Any = None) -> ImageInfo:
    """`ref` from the engine, pulled first when it is not local, as `docker build` does, with the
    user's own registry credentials (their docker config)."""
    client = _client(client)
    info = inspect_image(ref, client=client)
    if info is not None:
        return info
    repository, label = parse_repository_tag(ref)
    hint = f"check image.from in the manifest, or `docker pull {ref}`; for a private registry: docker login"
    registry = _registry_of(repository)
    if registry:
        hint += f" {registry}"
    on_line(f"pulling the base image {ref}")
    with _engine_errors(f"pulling the base image {ref}", hint=hint):
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


def tag(image_id: str, tags: Sequence[str], *, client: Any = None) -> TagUndo:
    """Point every name in `tags` at `image_id`; on failure, put back what was already moved."""
    client = _client(client)
    done: list[tuple[str, str | None]] = []
    try:
        # Signals wait for the few tag calls; each name is recorded before the engine moves it, so
        # whatever stops the loop, `restore_tags` knows every name that may have moved.  Inside a
        # bake's commit the bake decides what a stop means; alone, it is raised once all are tagged.
        with signals.held():
            for name in tags:
                before = inspect_image(name, client=client)
                done.append((name, before.id if before is not None else None))
                repository, label = parse_repository_tag(name)
                with _engine_errors(f"tagging {name}"):
                    client.api.tag(image_id, repository, label or "latest", force=True)
    except BaseException:
        restore_tags(tuple(done), image_id, client=client)
        raise
    return tuple(done)


def restore_tags(undo: TagUndo, image_id: str, *, client: Any = None) -> None:
    """Best effort: each tag that still names `image_id` back where it pointed before (or gone, when
    it did not exist).  A tag something else moved meanwhile (another bake of the same name) is
    left alone: putting it back would drop that bake's image."""
    client = _client(client)
    mine = _full_id(client, image_id) if _exists(client, image_id) else image_id
    for name, previous in reversed(undo):
        try:
            current = inspect_image(name, client=client)
            if current is None or current.id != mine:
                continue
            repository, label = parse_repository_tag(name)
            if previous is not None and _exists(client, previous):
                client.api.tag(previous, repository, label or "latest", force=True)
            else:
                # Only the name goes: the bake's lease still names the image (see `lease`), and
                # the bake's clean-up removes it and its own steps.
                client.api.remove_image(name, noprune=True)
        except (EngineError, docker.errors.DockerException, requests.exceptions.RequestException):
            continue


LEASE_REPOSITORY = "baker-bake-in-progress"


def lease(image_id: str, bake_id: str, *, client: Any = None) -> str:
    """Name the bake's output `baker-bake-in-progress:<bake id>` while the bake commits (tags,
    pushes, removes what it superseded).  Another bake of the same tags then sees the image named
    and never removes it as superseded, and untagging a name never deletes it; `release` ends it."""
    client = _client(client)
    with _engine_errors("naming the bake's image"):
        client.api.tag(image_id, LEASE_REPOSITORY, bake_id, force=True)
    return f"{LEASE_REPOSITORY}:{bake_id}"


def release(image_id: str, name: str, *, client: Any = None) -> bool:
    """End the lease `name` on the bake's output; True when the image stays (another name holds it).
    When the lease was its last name (another bake moved every tag of ours meanwhile), the image
    goes with it (its own steps stay, for `remove_labelled`).  Best effort: False when unsure."""
    try:
        client = _client(client)
        info = inspect_image(image_id, client=client)
        if info is None:
            return False
        others = [t for t in info.repo_tags if t != name]
        client.api.remove_image(name, noprune=True)
    except (EngineError, docker.errors.DockerException, requests.exceptions.RequestException):
        return _exists(client, image_id)
    return bool(others)


def leftovers(label: str, value: str, *, base: str, client: Any = None) -> list[str]:
    """The bake's own images that are still there (the engine refused to remove them: a container
    uses one), parents first; best effort, [] when the engine cannot say."""
    try:
        return _own_steps(_client(client), label, value, base)
    except (EngineError, docker.errors.DockerException, requests.exceptions.RequestException):
        return []


def push(name: str, on_line: Callable[[str], None], *, client: Any = None) -> str:
    """Push `name` with the user's own registry credentials (their docker config); the digest."""
    client = _client(client)
    repository, label = parse_repository_tag(name)
    login = f"docker login {_registry_of(repository)}".rstrip()
    with _engine_errors(f"pushing {name}", hint=f"check the registry address; {login}"):
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


def remove_image(
    image_id: str, *, client: Any = None, only_untagged: bool = True, noprune: bool = False
) -> bool:
    """Best effort removal of an image baker built; True when it went.  An image some tag points
    at is left alone (a fully cached build returns an existing, possibly tagged, image)."""
    try:
        client = _client(client)
        if only_untagged:
            info = inspect_image(image_id, client=client)
            if info is None or info.repo_tags:
                return False
        client.api.remove_image(image_id, noprune=noprune)
    except (EngineError, docker.errors.DockerException, requests.exceptions.RequestException):
        return False
    return True


__all__ = [
    "ImageInfo",
    "PushIncomplete",
    "Pushed",
    "TagUndo",
    "build_image",
    "connect",
    "engine_logs_requests",
    "ensure_image",
    "inspect_image",
    "lease",
    "leftovers",
    "push",
    "registry_login",
    "release",
    "remove_image",
    "remove_labelled",
    "remove_superseded",
    "restore_tags",
    "tag",
]

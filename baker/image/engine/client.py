"""The engine connection: `connect()`, the typed face of docker-py's client baker uses
(`DockerClient`), the translation of every docker/requests exception into a URL-free `EngineError`
(`engine_errors`), and the read-only calls every other engine module needs (`inspect_image`).

An app build's arguments travel in the build request's query string, and docker-py's `APIError`
and requests' connection errors quote that URL.  So no third-party message is ever passed on whole:
messages are rebuilt from the status code and the engine's own explanation, redacted and stripped of
URLs, and raised `from None` so no traceback chains back to them.

Clients are injectable (`client=`); by default `connect()` makes one from the environment
(DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_CONFIG), as the docker CLI would.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import docker
import docker.constants
import docker.errors
import requests.exceptions
import urllib3.exceptions

from baker.deadline import Deadline
from baker.errors import EngineError
from baker.image.dockerconfig import HELPER_ENVIRONMENT
from baker.image.engine.stream import clean
from baker.image.engine.types import ImageInfo
from baker.proxies import baker_session

START_ENGINE = (
    "start Docker (or dockerd), or point DOCKER_HOST at a running engine "
    "(with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for a TLS one)"
)

# What a best-effort engine call may raise: ours (translated) or docker-py's and requests' own.
ENGINE_FAILURES = (EngineError, docker.errors.DockerException, requests.exceptions.RequestException)


class DockerAPI(Protocol):
    """The part of docker-py's low-level `APIClient` baker calls (tests hand in a small stand-in)."""

    credstore_env: Mapping[str, str]
    timeout: float

    def reload_config(self) -> None: ...
    def build(self, **kwargs: Any) -> Any: ...
    def images(self, *, all: bool, quiet: bool, filters: dict[str, str]) -> list[str]: ...
    def inspect_image(self, image: str) -> dict[str, Any]: ...
    def history(self, image: str) -> list[dict[str, Any]]: ...
    def tag(self, image: str, repository: str, tag: str, *, force: bool) -> bool: ...
    def remove_image(self, image: str, *, noprune: bool) -> Any: ...
    def pull(self, repository: str, *, tag: str, stream: bool, decode: bool) -> Any: ...
    def get_image(self, image: str, chunk_size: int | None = ...) -> Any: ...
    def load_image(self, data: Any, quiet: bool | None = ...) -> Any: ...
    def push(self, repository: str, *, tag: str, stream: bool, decode: bool) -> Any: ...


class DockerClient(Protocol):
    """docker-py's `DockerClient`, as far as baker uses it."""

    @property
    def api(self) -> DockerAPI: ...
    def info(self) -> dict[str, Any]: ...
    def ping(self) -> bool: ...


CONNECT_TIMEOUT = 10.0


def connect() -> DockerClient:
    """A client for the engine the environment names, proven reachable."""
    with engine_errors("connecting to the Docker engine"):
        # An engine that accepts the connection and never answers must not hold baker for
        # docker-py's default minute (`check` asks the engine before the registry): ten seconds
        # to answer, then the default for everything else.
        from_env = _from_env(version=_api_version(), timeout=CONNECT_TIMEOUT)
        baker_session(from_env.api)  # a tcp:// loopback engine: never through a proxy
        client: DockerClient = from_env
        refuse_redirects(client.api)
        # Helpers run for pulls, builds and pushes get no credential of baker's.  Set here, not as
        # from_env's credstore_env, which docker-py 7.2 documents but passes on nowhere.
        client.api.credstore_env = HELPER_ENVIRONMENT
        client.api.reload_config()
        client.api.timeout = docker.constants.DEFAULT_TIMEOUT_SECONDS
    return client


USE_DOCKER_HOST = (
    "set DOCKER_HOST to unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST, or unset it for the default socket"
)


def _unusable_host(reason: str) -> EngineError:
    """DOCKER_HOST named as the cause; `reason` never quotes it (it may carry a password)."""
    return EngineError(
        f"connecting to the Docker engine failed: DOCKER_HOST is not an engine address ({reason})",
        hint=USE_DOCKER_HOST,
    )


def _without_host(text: str) -> str:
    """`text` (docker-py's) with DOCKER_HOST, when quoted whole, replaced by the variable's name.
    (A password in its user info is refused before docker-py reads it: `_from_env`.)"""
    host = os.environ.get("DOCKER_HOST", "")
    if len(host) >= 8:  # a short one is no secret, and would match inside other words
        text = text.replace(host, "DOCKER_HOST")
    return clean(text)


def _from_env(*, version: str, timeout: float) -> docker.DockerClient:
    """`docker.from_env`, with a DOCKER_HOST it cannot read said as such, never quoted: docker-py's
    refusal ("Invalid bind address format: <the address>") and urllib's ValueError (a broken IPv6
    address, a port that is no number or out of range; it was an "internal error").  An address
    with a password in its user info is refused first, as the docker CLI refuses it ("plain-text
    password is not supported"): its text goes nowhere."""
    host = os.environ.get("DOCKER_HOST", "")
    scheme, _, rest = host.rpartition("://")
    if scheme.lower() not in ("unix", "npipe") and ":" in rest.rpartition("@")[0]:
        raise _unusable_host("it carries a password: baker, as the docker CLI, takes none there")
    try:
        return docker.from_env(version=version, timeout=timeout)
    except ValueError:  # urllib's or ipaddress's words quote a piece of the address: none here
        raise _unusable_host("docker-py cannot read its port or address") from None
    except docker.errors.DockerException as exc:
        if "address" in str(exc):  # "Invalid bind address format: <DOCKER_HOST>": the words only
            raise _unusable_host(clean(str(exc).partition(":")[0])) from None
        # not the address: TLS settings, ssh:// without paramiko, ...
        raise EngineError(
            f"connecting to the Docker engine failed: {_without_host(str(exc))}", hint=START_ENGINE
        ) from None


def _api_version() -> str:
    """The engine's API version, from one `GET /_ping`: its answer is the proof the engine is there,
    and names the version in its `Api-Version` header (moby sets it on every answer).  docker-py's
    own negotiation (`version="auto"`) asks `GET /version` instead, which moby answers only after
    running `runc --version` and `docker-init --version`: ~10 ms against ~1.5 ms here.  An answer
    without the header (not moby): `GET /version` on the same probe (`_asked_version`), as
    docker-py's negotiation would ask it, but bounded and direct (rtf-2).

    Only the status line and the headers are read, never the body (moby's is `OK`; rte-1: an
    endpoint answering without end took baker to 3 GB), and the whole exchange ends by
    CONNECT_TIMEOUT however the endpoint drips it: a `Deadline` shuts down the probe's socket."""
    probe = _from_env(version=docker.constants.MINIMUM_DOCKER_API_VERSION, timeout=CONNECT_TIMEOUT)
    baker_session(probe.api)
    refuse_redirects(probe.api)
    deadline = Deadline(CONNECT_TIMEOUT)
    _track_sockets(probe.api, deadline.sockets)
    try:
        try:
            answer = probe.api.get(f"{probe.api.base_url}/_ping", timeout=CONNECT_TIMEOUT, stream=True)
        except (requests.exceptions.InvalidURL, urllib3.exceptions.LocationParseError):
            # docker-py took the address (urllib's reading); requests and urllib3 refuse it
            raise _unusable_host("its host is not a name or address requests can connect to") from None
        except requests.exceptions.ConnectionError as exc:
            if deadline.passed:
                raise _too_slow() from None
            raise EngineError(
                f"connecting to the Docker engine failed: no engine answered ({_os_error(exc)})",
                hint=START_ENGINE,
            ) from None
        with answer:  # closed unread: the body is not needed
            if deadline.expired:  # cut mid-headers: what came is not the answer
                raise _too_slow()
            if answer.status_code != 200:
                raise EngineError(
                    f"connecting to the Docker engine failed: the engine answered {answer.status_code}",
                    hint=START_ENGINE,
                )
            version = str(answer.headers.get("Api-Version", ""))
        if not _API_VERSION.fullmatch(version):
            version = _asked_version(probe, deadline)
    finally:
        deadline.cancel()
        probe.close()
    return version


_API_VERSION = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}")
_VERSION_MAX = 64 * 1024  # moby's /version answer: well under 1 KiB


def _asked_version(probe: docker.DockerClient, deadline: Deadline) -> str:
    """An engine whose `/_ping` names no `Api-Version` (not moby): `GET /version`, as docker-py's
    own negotiation asks it, but on the probe (direct to loopback, no redirect followed, within the
    same deadline) and read only as far as `_VERSION_MAX` (rtf-2)."""
    try:
        answer = probe.api.get(f"{probe.api.base_url}/version", timeout=CONNECT_TIMEOUT, stream=True)
        with answer:
            ok = answer.status_code == 200
            body = answer.raw.read(_VERSION_MAX + 1, decode_content=True) if ok else b""
    except (requests.exceptions.RequestException, OSError, urllib3.exceptions.HTTPError):
        if deadline.passed:
            raise _too_slow() from None
        body = b""
    if deadline.expired:  # cut mid-answer: what came is not the answer
        raise _too_slow()
    try:
        named = json.loads(body) if len(body) <= _VERSION_MAX else None
    except ValueError:
        named = None
    version = named.get("ApiVersion") if isinstance(named, dict) else None
    if not isinstance(version, str) or not _API_VERSION.fullmatch(version):
        raise EngineError(
            "connecting to the Docker engine failed: it named no API version (neither in its /_ping "
            "answer's Api-Version header nor in its /version answer)",
            hint=START_ENGINE,
        )
    return version


def _too_slow() -> EngineError:
    return EngineError(
        f"connecting to the Docker engine failed: no answer within {CONNECT_TIMEOUT:g} s",
        hint=START_ENGINE,
    )


def _track_sockets(api: Any, sockets: list[socket.socket]) -> None:
    """Every socket the probe client `api` opens is put in `sockets` (a `Deadline`'s) as it connects,
    whatever docker-py adapter carries it (unix, tcp, TLS, ssh): the adapters' pools are made
    lazily, so each pool is wrapped as its adapter hands it out.  For the probe alone, a client
    made and closed in `_api_version`."""

    def pool_tracked(pool: Any) -> Any:
        if getattr(pool, "_baker_tracked", False):
            return pool
        new_conn = pool._new_conn

        def tracked_new_conn() -> Any:
            conn = new_conn()
            connect = conn.connect

            def tracked_connect() -> None:
                connect()
                sockets.append(conn.sock)

            conn.connect = tracked_connect
            return conn

        pool._new_conn = tracked_new_conn
        pool._baker_tracked = True
        return pool

    for mounted in list(api.adapters.values()):
        adapter = getattr(mounted, "inner", mounted)  # under proxies.DirectToLoopback
        get = adapter.get_connection_with_tls_context

        def tracked_get(*args: Any, _get: Any = get, **kwargs: Any) -> Any:
            return pool_tracked(_get(*args, **kwargs))

        adapter.get_connection_with_tls_context = tracked_get


def _os_error(exc: BaseException) -> str:
    """The name of the OS error under a connection error (FileNotFoundError: no socket there,
    ConnectionRefusedError: nothing listens), found through urllib3's wrappers; its message is
    not used (it may quote the URL)."""
    todo: list[BaseException] = [exc]
    for _ in range(40):
        if not todo:
            break
        item = todo.pop(0)
        if isinstance(item, OSError) and type(item).__module__ == "builtins":
            return type(item).__name__
        inner = [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
        todo.extend(x for x in inner if isinstance(x, BaseException))
    return type(exc).__name__


def client_or_connect(client: DockerClient | None) -> DockerClient:
    """`client` (made elsewhere: it too follows no redirect from now on), or a new connection."""
    if client is None:
        return connect()
    refuse_redirects(client.api)
    return client


class EngineRedirect(requests.exceptions.RequestException):
    """The engine endpoint answered a request with a redirect (rte-2), which baker never follows."""


def _no_redirect(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    if response.is_redirect:
        response.close()  # the redirect's body is not read either
        raise EngineRedirect("the engine endpoint answered with a redirect")
    return response


def refuse_redirects(api: object) -> None:
    """Every request of docker-py's client `api` follows no redirect (rte-2: requests' default
    follows a 307 to any host, a load's archive, the baked config holding every value, with it).
    A session-wide response hook, which every docker-py call passes through (`load_image` with
    bytes, the `_ping` probe, streamed answers alike), refuses a 3xx with a `Location` before
    requests reads its body or looks at where it points; `max_redirects = 0` stays as the backstop.
    Idempotent; a stand-in that is not a requests session is left alone."""
    if not isinstance(api, requests.Session):
        return
    api.max_redirects = 0
    hooks = api.hooks.setdefault("response", [])
    if _no_redirect not in hooks:
        hooks.append(_no_redirect)


@contextmanager
def engine_errors(doing: str, *, hint: str | None = None) -> Iterator[None]:
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
            hint=START_ENGINE,
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
    except (EngineRedirect, requests.exceptions.TooManyRedirects):
        # Where it pointed is not said (untrusted, and maybe the request's own URL with its query).
        raise EngineError(
            f"{doing} failed: the engine endpoint answered with a redirect, which baker does not follow",
            hint="point DOCKER_HOST at the engine itself, not at a proxy that redirects",
        ) from None
    except docker.errors.DockerException as exc:
        # from_env's "Error while fetching server API version: ..." names the socket, not a value.
        raise EngineError(f"{doing} failed: {clean(str(exc))}", hint=START_ENGINE) from None
    except requests.exceptions.RequestException as exc:
        raise EngineError(f"{doing} failed: {type(exc).__name__}", hint=hint) from None


def full_id(client: DockerClient, ref: str) -> str:
    return str(client.api.inspect_image(ref)["Id"])


def exists(client: DockerClient, image_id: str) -> bool:
    if not image_id:
        return False
    try:
        client.api.inspect_image(image_id)
    except docker.errors.NotFound:
        return False
    return True


def inspect_image(ref: str, *, client: DockerClient | None = None) -> ImageInfo | None:
    """The image's id, labels and run settings; None when the engine has no such image."""
    client = client_or_connect(client)
    with engine_errors(f"inspecting {ref}"):
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

"""Red team on the last two rounds' fixes (rtf): `baker.proxies`, the engine connect's bounded,
redirect-free `/_ping`, and `check_tags` before resolution.  Small stand-ins on 127.0.0.x only: an
engine, a recording proxy (HTTP_PROXY), a redirect target.

Each test states what should hold; each was xfail(strict) until its finding was fixed (all four are)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.errors import BakerError, UsageError
from baker.image import engine
from baker.image.bake import CheckedTags, bake, check_tags
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.integration.test_build_inregistry_refusals import vault, write_manifest
from tests.support import oci_bases
from tests.support.fixtures_docker import ImageNames
from tests.support.fleet_world import manifest_digest
from tests.support.oci_bases import StartRegistry
from tests.support.registry import local_registry

registries = oci_bases.registries  # the fixture
__all__ = ["local_registry", "vault"]  # the fixtures


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Records each request line it gets and answers as moby would (a proxy or a redirect target
    that plays along): `/_ping` with `Api-Version`, anything else `{"ApiVersion": "1.41"}`."""

    protocol_version = "HTTP/1.1"
    seen: list[str]
    ping_version = True
    redirect_to = ""

    def do_GET(self) -> None:
        self.seen.append(self.requestline)
        if self.redirect_to and not self.path.endswith("/_ping"):
            self.send_response(307)
            self.send_header("Location", self.redirect_to + "/version")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"OK" if self.path.endswith("/_ping") else json.dumps({"ApiVersion": "1.41"}).encode()
        self.send_response(200)
        if self.ping_version:
            self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _serve(host: str, **attrs: Any) -> tuple[http.server.ThreadingHTTPServer, list[str]]:
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen, **attrs})
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A recording HTTP proxy on 127.0.0.3, named by HTTP_PROXY (and no NO_PROXY)."""
    server, seen = _serve("127.0.0.3")
    for var in ("NO_PROXY", "no_proxy", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.3:{server.server_address[1]}")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    yield seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("host", ["127.1", "[::ffff:127.0.0.1]"])
def test_rtf_1_a_tcp_engine_on_a_loopback_address_is_never_asked_through_the_proxy(
    proxy: list[str], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    """rtf-1 (low): `baker.loopback.is_loopback` reads only dotted-quad 127/8, ::1 and `localhost`,
    so DOCKER_HOST=tcp://127.1:P (inet_aton's short form) or tcp://[::ffff:127.0.0.1]:P (Go's
    `IsLoopback` says yes: the docker CLI goes direct) are sent to HTTP_PROXY / http_proxy / ALL_PROXY
    in plain http: `/_ping`, then every engine request, a load's archive (every baked value) among
    them.  (0.0.0.0 and `localhost.` likewise, though Go proxies those too.)"""
    engine_server, engine_seen = _serve("127.0.0.1")
    monkeypatch.setenv("DOCKER_HOST", f"tcp://{host}:{engine_server.server_address[1]}")
    try:
        engine.connect()
    finally:
        engine_server.shutdown()
        engine_server.server_close()
    assert proxy == []
    assert engine_seen == ["GET /_ping HTTP/1.1"]


def test_rtf_2_the_version_negotiation_of_a_loopback_engine_never_goes_through_the_proxy(
    proxy: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """rtf-2 (low): an engine whose `/_ping` names no `Api-Version` is asked `GET /version` by
    docker-py's own negotiation inside `docker.from_env(version="auto")`, before `connect` wraps the
    session (`baker_session`, `refuse_redirects`) and with no `Deadline`: that request goes to
    HTTP_PROXY even for DOCKER_HOST=tcp://127.0.0.1:P."""
    engine_server, engine_seen = _serve("127.0.0.1", ping_version=False)
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{engine_server.server_address[1]}")
    try:
        engine.connect()
    finally:
        engine_server.shutdown()
        engine_server.server_close()
    assert proxy == []
    assert engine_seen == ["GET /_ping HTTP/1.1", "GET /version HTTP/1.1"]


def test_rtf_2_the_version_negotiation_never_follows_the_engine_s_redirect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rtf-2 (low, the redirect variant; rte-2 again): the negotiation's `GET /version` follows a
    307 to another host (requests' 30 redirects; the error then says "Exceeded 30 redirects"), and
    reads its answer whole and without a bound on the exchange (a 200 MB body took baker to 600 MB; a
    dripped one held `connect` 49 s, past its 10 s)."""
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "DOCKER_TLS_VERIFY"):
        monkeypatch.delenv(var, raising=False)
    other, other_seen = _serve("127.0.0.4", ping_version=False)
    engine_server, _ = _serve(
        "127.0.0.5", ping_version=False, redirect_to=f"http://127.0.0.4:{other.server_address[1]}"
    )
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.5:{engine_server.server_address[1]}")
    try:
        try:
            engine.connect()
            connected = True  # today: through the other host's answer
        except BakerError:
            connected = False
    finally:
        for server in (other, engine_server):
            server.shutdown()
            server.server_close()
    assert other_seen == []
    assert not connected


def test_rtf_3_bake_refuses_a_revocation_without_push_whatever_checked_it_is_handed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rtf-3 (low, Python API): `bake` reuses `checked` when its tags and push match, whatever
    `revoke_superseded` it was made with: `bake(push=False, revoke_superseded=True,
    checked=check_tags(..., revoke_superseded=False))` skips `refuse_revoke_without_push` (and bakes,
    revoking nothing, exit 0); the reverse (`checked` made with revoke_superseded=True handed to a
    bake without it) revokes, since the revocation runs whenever `checked.before` is not None."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/rtf.sock")  # no engine: reached = refused late
    literal = LiteralValue("a")
    manifest = Manifest(
        path="baker.yaml",
        image=ImageSpec(base="busybox:latest", build=None, tags=("rtf/app:baked",)),
        credentials={},
        env=(EnvEntry(name="A", source=literal),),
    )
    resolved = ResolvedEnv(
        entries=(Resolved(env="A", value=Secret("a"), source=literal, version=None, properties=None),)
    )
    stale = CheckedTags(tags=("rtf/app:baked",), push=False, before=None)
    with pytest.raises(UsageError):
        bake(
            manifest,
            resolved,
            tags=["rtf/app:baked"],
            push=False,
            revoke_superseded=True,
            on_line=lambda line: None,
            checked=stale,
        )


@pytest.mark.docker
def test_rtf_3_a_bake_without_revoke_superseded_revokes_nothing_whatever_checked_it_is_handed(
    local_registry: str, busybox_base: str, docker_client: Any, image_names: ImageNames
) -> None:
    """rtf-3 (low, the reverse: Python API): `bake` goes by `checked.before`, not by the
    `revoke_superseded` it was asked: a `check_tags(..., revoke_superseded=True)` handed to
    `bake(push=True, revoke_superseded=False)` (same tags, same push: reused) reaches
    `revoke.named_now` with `revoke` never imported: an UnboundLocalError after the tag moved (the
    undo puts it back; nothing is pushed or deleted).  Whatever the fix, no revocation unasked."""
    tag = f"{local_registry}/rtf/app:{uuid.uuid4().hex[:8]}"
    repository = "rtf/app"

    def once(value: str, **kwargs: Any) -> Any:
        literal = LiteralValue(value)
        manifest = Manifest(
            path="baker.yaml",
            image=ImageSpec(base=busybox_base, build=None),
            credentials={},
            env=(EnvEntry("TOKEN", literal),),
        )
        resolved = ResolvedEnv(
            (Resolved(env="TOKEN", value=Secret(value), source=literal, version=None, properties=None),)
        )
        if kwargs.pop("check_for_revocation", False):
            kwargs["checked"] = check_tags(manifest, [tag], push=True, revoke_superseded=True)
        result = bake(manifest, resolved, tags=[tag], push=True, on_line=lambda line: None, **kwargs)
        image_names.track(result.image_id)
        return result

    first = once(f"rtf-old-{uuid.uuid4().hex}")
    old = first.pushed[0].digest
    try:
        result = once(f"rtf-new-{uuid.uuid4().hex}", client=docker_client, check_for_revocation=True)
    except BaseException as exc:  # today: UnboundLocalError (bake's `revoke` imported only when asked)
        raised: BaseException | None = exc
    else:
        raised = None
        assert result.revocation is None
    assert raised is None
    assert manifest_digest(local_registry, repository, old) == old


@pytest.mark.docker
@pytest.mark.emulator
@pytest.mark.parametrize("revoke", [False, True])
def test_rtf_4_the_registry_road_asks_every_tag_s_registry_before_any_secret_is_fetched(
    revoke: bool,
    registries: StartRegistry,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """rtf-4 (low): d7c2fd0 made the engine road check its tags and ask the registries they need
    (`check_tags`) before any secret is read; `build --in-registry` still reads what its tags name
    (`_read_tags`, and so `--revoke-superseded`'s first read) inside `bake_in_registry`, after
    `_resolve`: a second tag on a registry nobody answers is refused only once every value was
    fetched (`baker/__init__`'s "no engine or registry, no secret fetched")."""
    registry = registries()
    base = oci_bases.push_base(registry.api, "base/app", platforms=("linux/amd64",))
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        nobody = f"127.0.0.2:{probe.getsockname()[1]}"
    manifest = write_manifest(tmp_path / "baker.yaml", vault, base.ref)
    vault.reset_stats()
    argv = ["build", "--in-registry", "-f", str(manifest)]
    argv += ["--tag", f"{registry.host}/baked/app:v1", "--tag", f"{nobody}/baked/app:v1"]
    code = main([*argv, "--revoke-superseded"] if revoke else argv)
    capsys.readouterr()
    assert code != 0
    assert [r for r in vault.requests() if "/secrets/" in r.path] == []

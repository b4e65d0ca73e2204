"""Red team round 6 on a stopped engine bake's `--json` document (310f61e: `report_stop`).

A stop is sent to `python -m baker build --json` while it waits on a loopback listener that accepts
and never answers (an Entra authority that hangs), so the moment is chosen, not guessed.  What must
hold (BRIEF: "never none on exit 130"): stdout is exactly one JSON document on every exit 130.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.redteam.proxy import proxies
from tests.support import oci_bases
from tests.support.fixtures_docker import ImageNames
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest
from tests.support.oci_bases import StartRegistry

pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture
__all__ = ["proxies"]  # the fixture

TENANT = "6f1c0d2e-7a3b-4c5d-9e8f-0a1b2c3d4e5f"
APP = "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"
CLIENT_SECRET = "rt6-client-secret-5d0e3c"
VALUE = "rt6-stop-value-a81f2e77"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(
        small_world(
            tenant=TENANT,
            apps={APP: CLIENT_SECRET},
            vaults={"stop": {"grants": [{"app": APP, "scope": "vault"}], "secrets": {"one": VALUE}}},
        )
    )


@pytest.fixture
def hanging_authority() -> Iterator[str]:
    """`https://login.localhost:PORT`: accepts every connection and never answers (a sign-in waits)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"https://login.localhost:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


def _manifest(path: Path, emu: Emulator, base: str, tag: str, authority: str) -> Path:
    credential = azure_credential(emu.vault_url("stop"), TENANT, APP, authority_host=authority)
    env = {"ONE": {"secret": "one"}}
    return write_manifest(path, base=base, tag=tag, credentials={"kv": credential}, env=env)


def _environment(emu: Emulator) -> dict[str, str]:
    return {**os.environ, **emu.client_env(), "AZURE_CLIENT_SECRET": CLIENT_SECRET}


def _stopped(args: list[str], env: dict[str, str], *, after: str | None, wait: float) -> tuple[int, str, str]:
    """`python -m baker build --no-ci --json ARGS`, sent one SIGINT `wait` s after its stderr shows
    `after` (at once when None); its exit code, stdout and stderr."""
    child = subprocess.Popen(
        [sys.executable, "-m", "baker", "build", "--no-ci", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert child.stderr is not None
        for raw in child.stderr:
            lines.append(raw.decode("utf-8", "replace"))
            if after is not None and after in lines[-1]:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if after is not None:
        assert seen.wait(60), "never got to: " + after + "\n" + "".join(lines)
    time.sleep(wait)
    child.send_signal(signal.SIGINT)
    assert child.stdout is not None
    out = child.stdout.read().decode("utf-8", "replace")
    code = child.wait(timeout=60)
    reader.join(timeout=5)
    return code, out, "".join(lines)


def _documents(out: str) -> list[Any]:
    decoder, found, at = json.JSONDecoder(), [], 0
    text = out.strip()
    while at < len(text):
        document, end = decoder.raw_decode(text, at)
        found.append(document)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return found


def test_rt6_2_a_fleet_build_stopped_mid_way_writes_one_document(
    world: Emulator,
    hanging_authority: str,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
) -> None:
    """`build -f A -f B --json`, stopped while B's sign-in waits (A baked and tagged): `build_many`
    keeps each bake's document in a StringIO and the stop (re-raised by `build_manifest` after
    `report_stop` wrote into that StringIO) leaves it before `out.result`: stdout is empty, A's
    bake and any image B's stop `left` are in no document."""
    first, second = image_names("one"), image_names("two")
    a = _manifest(tmp_path / "a.yaml", world, busybox_base, first, world.authority_host)
    b = _manifest(tmp_path / "b.yaml", world, busybox_base, second, hanging_authority)
    code, out, err = _stopped(
        ["-f", str(a), "-f", str(b)], _environment(world), after=f"baking {second}", wait=1.0
    )
    assert image_names.exists(first), err  # the premise: A was baked before the stop
    assert VALUE not in out + err
    assert code == 130, err
    documents = _documents(out)
    assert len(documents) == 1, f"{len(documents)} documents on stdout; stderr:\n{err}"
    assert [m.get("file") for m in documents[0]["manifests"]][:1] == [str(a)]


def test_rt6_3_a_build_if_stale_stopped_during_its_check_writes_one_document(
    world: Emulator,
    hanging_authority: str,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
) -> None:
    """`build --if-stale --json` stopped while the staleness check signs in (`no_rebake_due`, before
    `pipeline.build`): only `pipeline.build` is under `report_stop`, so `cli._main`'s catch-all
    ends it 130 with nothing on stdout (the same for a stop while the manifest loads)."""
    tag = image_names("app")
    good = _manifest(tmp_path / "good.yaml", world, busybox_base, tag, world.authority_host)
    baked = subprocess.run(
        [sys.executable, "-m", "baker", "build", "--no-ci", "-f", str(good)],
        env=_environment(world),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert baked.returncode == 0, baked.stderr.decode()
    hanging = _manifest(tmp_path / "hang.yaml", world, busybox_base, tag, hanging_authority)
    code, out, err = _stopped(["--if-stale", "-f", str(hanging)], _environment(world), after=None, wait=3.0)
    assert VALUE not in out + err
    assert code == 130, err
    assert len(_documents(out)) == 1, f"no document on stdout; stderr:\n{err}"


def test_rt6_5_a_stop_that_escapes_a_push_says_which_tags_moved(
    registries: StartRegistry,
    proxies: Any,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
) -> None:
    """`build --tag A --tag B --push --json`, A's push done, B's registry holding the manifest PUT
    (a slow registry), then three SIGINTs (the hold's escape): stderr says "already pushed, cannot
    be taken back: A", but the document says `"stopped: no tag moved"` with `not_restored: []` and
    `left: []`, while A's registry tag names the baked image (its config holds the values).  The
    engine road raises a plain KeyboardInterrupt when `state.pushed` is not empty, so
    `report_stop` has nothing to name; the registry road's document names such tags."""
    first, second = registries(auth=False), registries(auth=False)
    slow = proxies(second.host)

    def hold_manifest_put(method: str, path: str) -> str:
        if method == "PUT" and "/manifests/" in path:
            time.sleep(20)  # the engine waits on B's push; baker is stopped meanwhile
        return path

    slow.rewrite = hold_manifest_put
    repo, tag = f"rt6/app{os.getpid()}", "baked"
    one, two = f"{first.host}/{repo}:{tag}", f"{slow.host}/{repo}:{tag}"
    image_names.names.extend([one, two])
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": VALUE})
    args = ["build", "--no-ci", "--json", "-f", str(manifest), "--tag", one, "--tag", two, "--push"]
    child = subprocess.Popen(
        [sys.executable, "-m", "baker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while first.api.tag_digest(repo, tag) is None and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.1)
    pushed = first.api.tag_digest(repo, tag)
    time.sleep(1.0)  # B's push is under way, held at its manifest
    for _ in range(3):
        child.send_signal(signal.SIGINT)
        time.sleep(0.3)
    out, err = child.communicate(timeout=60)
    assert pushed is not None, err.decode()  # the premise: A's registry tag moved
    assert child.returncode == 130, err.decode()
    document = json.loads(out)
    assert VALUE not in out.decode() + err.decode()
    assert document["message"] != "stopped: no tag moved", document
    assert one in document["not_restored"] + document.get("pushed", []), document


class _HeldEngine:
    """`tcp://127.0.0.1:PORT` in front of the engine's unix socket that never forwards an image
    removal (`DELETE /.../images/...`): `held` is set when one comes, the connection is dropped later."""

    def __init__(self, unix_path: str) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.host = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self.held = threading.Event()
        self._unix_path = unix_path
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(self._unix_path)
            threading.Thread(target=self._pump, args=(client, engine, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(engine, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, hold: bool) -> None:
        try:
            while data := source.recv(65536):
                if hold and data.startswith(b"DELETE /") and b"/images/" in data.split(b"\r\n", 1)[0]:
                    self.held.set()
                    time.sleep(20)
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


def test_rt6_7_a_stop_that_escapes_the_superseded_removal_names_what_it_left(
    busybox_base: str, image_names: ImageNames, tmp_path: Path
) -> None:
    """A re-bake of a tag (the tag moved: the bake committed), then three SIGINTs while the engine
    holds the removal of the image the tag named before (untagged now, holding the old values):
    `_finish` runs inside the escape-3 hold but outside the undo's `except`, so the plain
    KeyboardInterrupt reaches `report_stop`: `"stopped: no tag moved"`, `left: []`, while the tag
    names the new image and the old one (its Env holds the old value) and the bake's working name
    remain, each named on stderr only."""
    unix_path = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    if not Path(unix_path).is_socket():
        pytest.skip("the engine is not on a local unix socket")  # the stand-in fronts a unix socket
    tag = image_names("app")
    old_value = f"{VALUE}-old"
    first = write_manifest(tmp_path / "first.yaml", base=busybox_base, tag=tag, env={"TOKEN": old_value})
    second = write_manifest(tmp_path / "second.yaml", base=busybox_base, tag=tag, env={"TOKEN": VALUE})
    baked = subprocess.run(
        [sys.executable, "-m", "baker", "build", "--no-ci", "-f", str(first)], cwd=ROOT, capture_output=True
    )
    assert baked.returncode == 0, baked.stderr.decode()
    old = image_names.track(image_names.image_id(tag))
    held = _HeldEngine(unix_path)
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "baker", "build", "--no-ci", "--json", "-f", str(second)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "DOCKER_HOST": held.host},
        )
        assert held.held.wait(60), "the superseded image's removal never came"
        time.sleep(0.3)
        for _ in range(3):
            child.send_signal(signal.SIGINT)
            time.sleep(0.2)
        out, err = child.communicate(timeout=60)
    finally:
        held.close()
    text = err.decode()
    image_names.names.extend(
        word.strip("`") for word in text.split() if word.startswith("baker-bake-in-progress:")
    )
    assert child.returncode == 130, text
    assert image_names.image_id(tag) != old, text  # the premise: the tag moved (the bake committed)
    assert old in image_names.holding(old_value), text  # ... and the old image still holds its value
    document = json.loads(out)
    assert document["message"] != "stopped: no tag moved", document
    assert old in document["left"], document


class _HeldDeletes:
    """A byte-for-byte loopback TCP proxy in front of a registry (pushes pass whole, chunked uploads
    too) that, once `armed`, holds every `DELETE` (never forwarded): `held` is set when one comes."""

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.rsplit(":", 1)
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self.armed = False
        self.held = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            registry = socket.create_connection((self._upstream[0], int(self._upstream[1])))
            threading.Thread(target=self._pump, args=(client, registry, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(registry, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, hold: bool) -> None:
        try:
            while data := source.recv(65536):
                if hold and self.armed and data.startswith(b"DELETE "):
                    self.held.set()
                    time.sleep(20)
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


def test_rt6_8_a_stop_during_revocation_names_the_superseded_image(
    registries: StartRegistry, busybox_base: str, image_names: ImageNames, tmp_path: Path
) -> None:
    """`build --push --revoke-superseded --json` on the engine road, one SIGINT while the registry
    holds the DELETE of the superseded manifest: `bake` calls `revoke_superseded` after its hold,
    unguarded, so the KeyboardInterrupt reaches `report_stop`, which writes `"stopped: no tag
    moved"`, `left: []`, exit 130, although the tag moved and was pushed; the superseded image
    (its config holds the old values) stays pullable and its digest is named nowhere (stderr says
    "revoking 1 superseded image(s)" only).  The registry road keeps a `Revocation` filled as it
    goes for this (rt3); the engine road's stop loses it."""
    registry = registries(auth=False, deletes=True)
    front = _HeldDeletes(registry.host)
    repo, tag = f"rt6/rev{os.getpid()}", "baked"
    name = f"{front.host}/{repo}:{tag}"
    image_names.names.append(name)
    args = ["build", "--no-ci", "-f", "", "--tag", name, "--push", "--revoke-superseded"]
    try:
        args[3] = str(write_manifest(tmp_path / "old.yaml", base=busybox_base, env={"TOKEN": f"{VALUE}-old"}))
        first = subprocess.run([sys.executable, "-m", "baker", *args], cwd=ROOT, capture_output=True)
        assert first.returncode == 0, first.stderr.decode()
        old = registry.api.tag_digest(repo, tag)
        assert old is not None
        front.armed = True
        args[3] = str(write_manifest(tmp_path / "new.yaml", base=busybox_base, env={"TOKEN": VALUE}))
        child = subprocess.Popen(
            [sys.executable, "-m", "baker", *args, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        assert front.held.wait(90), "the revocation's DELETE never came"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        front.close()
    text = out.decode() + err.decode()
    assert registry.api.tag_digest(repo, tag) not in (None, old), text  # the premise: the bake moved the tag
    assert registry.api.tag_digest(repo, old) == old, text  # ... and the superseded image is still pullable
    assert child.returncode == 130, text
    document = json.loads(out)
    # The bake completed first: its own document (the tag, pushed), the revocation's `not_revoked`
    assert document.get("message") != "stopped: no tag moved", document
    assert [p["tag"] for p in document["pushed"]] == [name], document
    assert old in [d["digest"] for d in document["not_revoked"]], document  # named, not revoked

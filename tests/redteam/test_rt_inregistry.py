"""Red-team reproductions for `baker build --in-registry` (issue 11) against Debian's docker-registry
on 127.0.0.1 with a login, fronted where needed by a loopback proxy (tests/redteam/proxy.py) that
plays an unusual but spec-conforming registry, or signals baker at an exact moment.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_build_inregistry import bake, inregistry_manifest, vault
from tests.redteam.proxy import Proxy, proxies
from tests.support import oci_bases
from tests.support.oci_bases import USER, StartRegistry, push_base

__all__ = ["proxies", "vault"]  # fixtures
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

ROOT = Path(__file__).resolve().parents[2]


def _login(host: str) -> None:
    """Add `host` (a proxy) to the test's docker config, with the test registry's login."""
    path = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    document: dict[str, Any] = json.loads(path.read_text())
    document["auths"][host] = {"auth": base64.b64encode(":".join(USER).encode()).decode()}
    path.write_text(json.dumps(document))


def _fronted(registries: StartRegistry, proxies: Any) -> tuple[Any, Proxy]:
    registry = registries()
    proxy = proxies(registry.host)
    _login(proxy.host)
    return registry, proxy


def _run_baker(manifest: Path, *tags: str, extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "baker", "build", "--in-registry", "-f", str(manifest), *extra]
    for tag in tags:
        args += ["--tag", tag]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


# --- a registry that does not mount ---------------------------------------------------------------


def test_a_registry_that_does_not_mount_still_gets_the_layers(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies)

    def no_mount(method: str, path: str) -> str:
        if method == "POST" and "mount=" in path:  # "unable to mount": start a plain upload instead
            return path.split("?", 1)[0]
        return path

    proxy.rewrite = no_mount
    base = push_base(registry.api, "base/app", attestation=False)
    manifest = inregistry_manifest(
        tmp_path / "baker.yaml", vault, f"{proxy.host}/base/app:{base.ref.rsplit(':', 1)[1]}"
    )
    code, document = bake(capsys, manifest, f"{proxy.host}/other/app:v1")
    assert code == 0, document
    assert registry.api.tag_digest("other/app", "v1") == document["digest"]


# --- the tag step -----------------------------------------------------------------------------------


def _is_tag_put(method: str, path: str, tag: str) -> bool:
    return method == "PUT" and path.endswith(f"/manifests/{tag}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_between_two_tags_completes_the_bake_or_moves_nothing(
    signum: signal.Signals, registries: StartRegistry, proxies: Any, vault: Emulator, tmp_path: Path
) -> None:
    registry, proxy = _fronted(registries, proxies)
    base = push_base(registry.api, "team/app", attestation=False)
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    child: list[subprocess.Popen[bytes]] = []

    def stop_after_first_tag(method: str, path: str, status: int) -> None:
        if _is_tag_put(method, path, "first") and status == 201:
            os.kill(child[0].pid, signum)

    proxy.after = stop_after_first_tag
    child.append(_run_baker(manifest, f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second"))
    _, err = child[0].communicate(timeout=60)
    code = child[0].returncode
    first = registry.api.tag_digest("team/app", "first")
    second = registry.api.tag_digest("team/app", "second")
    assert code in (0, 130), err
    # Either both tags name the bake (completed), or neither exists (nothing changed).
    assert (first is None and second is None) or (first is not None and first == second), (
        code,
        first,
        second,
        err,
    )


def test_a_refused_second_tag_leaves_the_first_tag_where_it_was(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies)
    base = push_base(registry.api, "team/app", attestation=False)
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    code, done = bake(capsys, manifest, f"{proxy.host}/team/app:first")
    assert code == 0, done
    before = registry.api.tag_digest("team/app", "first")
    denied = b'{"errors":[{"code":"DENIED","message":"tag second is immutable"}]}'

    def immutable_second(method: str, path: str) -> Any:
        if _is_tag_put(method, path, "second"):
            return (403, {"Content-Type": "application/json"}, denied)
        return path

    proxy.rewrite = immutable_second
    rotated = inregistry_manifest(
        tmp_path / "rotated.yaml", vault, base.ref, extra={"ROTATED": "new-literal"}
    )
    code, document = bake(capsys, rotated, f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second")
    assert code == 1, document
    assert registry.api.tag_digest("team/app", "first") == before, "the failed bake moved the first tag"


def test_a_stop_before_the_tag_names_the_value_holding_manifests_it_left(
    registries: StartRegistry, proxies: Any, vault: Emulator, tmp_path: Path
) -> None:
    registry, proxy = _fronted(registries, proxies)
    base = push_base(registry.api, "team/app", attestation=False)
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    child: list[subprocess.Popen[bytes]] = []
    pushed: list[str] = []

    def stop_at_the_tag(method: str, path: str) -> Any:
        if method == "PUT" and "/manifests/sha256:" in path:
            pushed.append(path.rsplit("/", 1)[1])
        if _is_tag_put(method, path, "baked"):
            os.kill(child[0].pid, signal.SIGTERM)
            return (503, {}, b"")  # the tag never moves
        return path

    proxy.rewrite = stop_at_the_tag
    child.append(_run_baker(manifest, f"{proxy.host}/team/app:baked"))
    _, err = child[0].communicate(timeout=60)
    assert child[0].returncode == 130, err
    assert registry.api.tag_digest("team/app", "baked") is None
    assert pushed, "the bake pushed its manifests before the tag"
    text = err.decode()
    left = [digest for digest in pushed if digest in text]
    assert left, f"no pushed manifest is named in: {text!r}"

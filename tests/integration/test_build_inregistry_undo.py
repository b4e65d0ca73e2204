"""What a failed or stopped `build --in-registry` puts back and removes (baker.image.inregistry_undo),
against Debian's docker-registry with and without deletes enabled, fronted by a loopback proxy
(tests/redteam/proxy.py) that refuses a tag or signals baker at an exact moment."""

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
from tests.support.oci_bases import USER, Registry, StartRegistry, push_base

__all__ = ["proxies", "vault"]  # fixtures
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

ROOT = Path(__file__).resolve().parents[2]
DENIED = (403, {"Content-Type": "application/json"}, b'{"errors":[{"code":"DENIED","message":"immutable"}]}')


def _fronted(registries: StartRegistry, proxies: Any, *, deletes: bool) -> tuple[Registry, Proxy]:
    registry = registries(deletes=deletes)
    proxy = proxies(registry.host)
    path = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    document: dict[str, Any] = json.loads(path.read_text())
    document["auths"][proxy.host] = {"auth": base64.b64encode(":".join(USER).encode()).decode()}
    path.write_text(json.dumps(document))
    return registry, proxy


def _pushed(proxy: Proxy) -> list[str]:
    """Every manifest (by digest) and blob upload the bake put through the proxy."""
    return [
        path.rsplit("/", 1)[1]
        for method, path in proxy.seen
        if method == "PUT" and "/manifests/sha256:" in path
    ]


def _refuse_tag(proxy: Proxy, tag: str) -> None:
    proxy.rewrite = lambda method, path: (
        DENIED if method == "PUT" and path.endswith(f"/manifests/{tag}") else path
    )


def test_a_refused_second_tag_puts_the_first_back_and_deletes_what_the_bake_pushed(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    assert bake(capsys, manifest, f"{proxy.host}/team/app:first")[0] == 0
    before = registry.api.tag_digest("team/app", "first")
    proxy.seen.clear()
    _refuse_tag(proxy, "second")
    code, document = bake(capsys, manifest, f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second")
    assert code == 1, document
    assert (document["error"], document["left"], document["not_restored"]) == ("ImageError", [], [])
    assert "DENIED" in document["message"]
    assert registry.api.tag_digest("team/app", "first") == before  # put back
    assert registry.api.tag_digest("team/app", "second") is None
    pushed = _pushed(proxy)
    assert len(pushed) == 3  # two platform manifests and the index
    assert not any(registry.api.tag_digest("team/app", digest) for digest in pushed)  # deleted


def test_a_registry_without_docker_content_digest_still_gets_the_tag_that_existed_before_put_back(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Docker-Content-Digest is optional; a proxy that drops it must not make the undo take a tag
    # that existed before for one moved by someone else (and delete it with the bake's manifest).
    registry, proxy = _fronted(registries, proxies, deletes=True)
    proxy.drop = ("docker-content-digest",)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    assert bake(capsys, manifest, f"{proxy.host}/team/app:first")[0] == 0
    before = registry.api.tag_digest("team/app", "first")
    proxy.seen.clear()
    _refuse_tag(proxy, "second")
    code, document = bake(capsys, manifest, f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second")
    assert code == 1, document
    assert (document["left"], document["not_restored"]) == ([], [])
    assert registry.api.tag_digest("team/app", "first") == before  # put back, not deleted
    assert registry.api.tag_digest("team/app", "second") is None
    assert not any(registry.api.tag_digest("team/app", digest) for digest in _pushed(proxy))


def test_a_refused_tag_takes_a_tag_that_did_not_exist_before_away_with_the_bakes_manifest(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    _refuse_tag(proxy, "second")
    code, document = bake(capsys, manifest, f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second")
    assert code == 1, document
    assert (document["left"], document["not_restored"]) == ([], [])
    assert registry.api.tag_digest("team/app", "first") is None


def test_a_registry_without_deletes_gets_every_tag_it_can_back_and_the_rest_named(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=False)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    assert bake(capsys, manifest, f"{proxy.host}/team/app:existing")[0] == 0
    before = registry.api.tag_digest("team/app", "existing")
    proxy.seen.clear()
    _refuse_tag(proxy, "refused")
    tags = [f"{proxy.host}/team/app:{name}" for name in ("existing", "new", "refused")]
    code = subprocess.run(
        [sys.executable, "-m", "baker", "build", "--in-registry", "-f", str(manifest), "--json"]
        + [arg for tag in tags for arg in ("--tag", tag)],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    document = json.loads(code.stdout)
    assert code.returncode == 1, code.stderr
    assert registry.api.tag_digest("team/app", "existing") == before  # put back by its old bytes
    new = registry.api.tag_digest("team/app", "new")
    assert new is not None  # no API removes a tag but a manifest DELETE, which this registry refuses
    assert document["not_restored"] == [tags[1]]
    pushed = _pushed(proxy)
    assert new in pushed
    # Every manifest and config the bake pushed is named, in the document and in what it printed.
    assert {item.rsplit("@", 1)[1] for item in document["left"]} >= set(pushed)
    assert len(document["left"]) == 5  # two configs, two manifests, the index
    stderr = code.stderr.decode()
    assert all(f"{proxy.host}/team/app@{digest}" in stderr for digest in pushed)
    assert "does not delete" in stderr and tags[1] in stderr


def _stop_at_the_tag(proxy: Proxy, child: list[subprocess.Popen[bytes]]) -> None:
    def hook(method: str, path: str) -> Any:
        if method == "PUT" and path.endswith("/manifests/baked"):
            os.kill(child[0].pid, signal.SIGTERM)
            return (503, {}, b"")  # the tag never moves
        return path

    proxy.rewrite = hook


def test_a_stop_before_the_tag_deletes_what_the_bake_pushed_and_says_so_in_its_document(
    registries: StartRegistry, proxies: Any, vault: Emulator, tmp_path: Path
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    child: list[subprocess.Popen[bytes]] = []
    _stop_at_the_tag(proxy, child)
    args = [sys.executable, "-m", "baker", "build", "--in-registry", "-f", str(manifest), "--json"]
    child.append(
        subprocess.Popen(
            [*args, "--tag", f"{proxy.host}/team/app:baked"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
    )
    out, err = child[0].communicate(timeout=60)
    assert child[0].returncode == 130, err
    document = json.loads(out)
    assert (document["left"], document["not_restored"]) == ([], [])
    pushed = _pushed(proxy)
    assert pushed and all(digest in err.decode() for digest in pushed)  # named as deleted
    assert not any(registry.api.tag_digest("team/app", digest) for digest in pushed)
    assert registry.api.tag_digest("team/app", "baked") is None


def test_a_stop_during_the_tag_step_completes_the_bake_then_exits_130_saying_so(
    registries: StartRegistry, proxies: Any, vault: Emulator, tmp_path: Path
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=False)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    child: list[subprocess.Popen[bytes]] = []

    def after(method: str, path: str, status: int) -> None:
        if method == "PUT" and path.endswith("/manifests/first") and status == 201:
            os.kill(child[0].pid, signal.SIGINT)

    proxy.after = after
    args = [sys.executable, "-m", "baker", "build", "--in-registry", "-f", str(manifest), "--json"]
    tags = [f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second"]
    child.append(
        subprocess.Popen(
            [*args, "--tag", tags[0], "--tag", tags[1]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
    )
    out, err = child[0].communicate(timeout=60)
    assert child[0].returncode == 130, err
    document = json.loads(out)
    assert document["tags"] == tags and document["left"] == []
    assert registry.api.tag_digest("team/app", "first") == document["digest"]
    assert registry.api.tag_digest("team/app", "second") == document["digest"]
    assert "the bake completed first" in err.decode()

"""Red-team round 3 follow-up (rt3): the in-registry undo when `Docker-Content-Digest` lies (a cache
in front of the registry that serves a tag's HEAD from before the bake moved it).  Debian's
docker-registry with deletes, behind the loopback proxy of tests/redteam/proxy.py.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_build_inregistry import bake, inregistry_manifest, vault
from tests.integration.test_build_inregistry_undo import DENIED, _fronted
from tests.redteam.proxy import proxies
from tests.support import oci_bases
from tests.support.oci_bases import StartRegistry, push_base

__all__ = ["proxies", "vault"]  # fixtures
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture


def test_rt3_3_a_stale_head_digest_never_makes_the_undo_delete_a_tag_that_existed_before(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A two-tag bake whose second tag is refused is undone.  The proxy answers HEAD of the first
    tag with the digest it named before the bake (a stale cache; the tag did move): the undo takes
    the tag as never moved and leaves it, then deletes the bake's manifest, which untags it.  The
    tag that existed before is gone, and `not_restored` is empty: the tag must be put back (GET its
    bytes, as the revocation's read does) or named."""
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app", attestation=False)
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    first, second = f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second"
    assert bake(capsys, manifest, first)[0] == 0
    old = registry.api.tag_digest("team/app", "first")
    assert old is not None
    _, media_type = registry.api.manifest("team/app", old)

    def stale_head_and_immutable_second(method: str, path: str) -> Any:
        if method == "HEAD" and path.endswith("/manifests/first"):
            return (200, {"Docker-Content-Digest": old, "Content-Type": media_type}, b"")
        if method == "PUT" and path.endswith("/manifests/second"):
            return DENIED
        return path

    proxy.rewrite = stale_head_and_immutable_second
    code, document = bake(capsys, manifest, first, second)
    assert code == 1, document
    now = registry.api.tag_digest("team/app", "first")
    assert now == old or f"{proxy.host}/team/app:first" in document.get("not_restored", []), (now, document)


def test_rt3_2b_a_stale_head_digest_never_makes_a_revocation_delete_a_tagged_image(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The tag `stable` names the same baked image as `baked` (a release pinned to it); a re-bake of
    `baked` with --revoke-superseded supersedes it.  The proxy answers HEAD of `stable` with another
    digest (a stale cache): the revocation takes the old image as no longer tagged and deletes it,
    and deleting a manifest untags it: `stable` is gone, and the bake says it revoked the image."""
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app", attestation=False)
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    tag = f"{proxy.host}/team/app:baked"
    assert bake(capsys, manifest, tag)[0] == 0
    old = registry.api.tag_digest("team/app", "baked")
    assert old is not None
    raw, media_type = registry.api.manifest("team/app", old)
    registry.api.put_manifest("team/app", "stable", raw, media_type)
    other = registry.api.tag_digest("team/app", base.ref.rsplit(":", 1)[1])
    assert other is not None and other != old

    def stale_head(method: str, path: str) -> Any:
        if method == "HEAD" and path.endswith("/manifests/stable"):
            return (200, {"Docker-Content-Digest": other, "Content-Type": media_type}, b"")
        return path

    proxy.rewrite = stale_head
    code, document = bake(capsys, manifest, tag, extra=("--revoke-superseded",))
    assert code in (0, 1), document
    assert registry.api.tag_digest("team/app", "stable") == old, (code, document)

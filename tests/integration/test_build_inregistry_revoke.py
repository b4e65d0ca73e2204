"""`build --in-registry --revoke-superseded` together with the undo (baker.image.inregistry_undo):
one read of each tag serves both, the revocation runs only after the bake completed, and a failed
bake that is undone revokes nothing.  Debian's docker-registry with deletes, fronted by the loopback
proxy of tests/redteam/proxy.py (it records every request and can refuse a tag)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_build_inregistry import bake, inregistry_manifest, vault
from tests.integration.test_build_inregistry_undo import ROOT, _fronted, _refuse_tag
from tests.redteam.proxy import proxies
from tests.support import oci_bases
from tests.support.oci_bases import StartRegistry, push_base

__all__ = ["proxies", "vault"]  # fixtures
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture
REVOKE = ("--revoke-superseded",)


def _tag_reads_before_the_first_push(seen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    first_push = next(i for i, (method, _) in enumerate(seen) if method in ("PUT", "POST"))
    return [(m, p) for m, p in seen[:first_push] if p == "/v2/team/app/manifests/baked"]


def test_one_read_of_each_tag_serves_the_undo_and_the_revocation_which_runs_after_the_tags_moved(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    tag = f"{proxy.host}/team/app:baked"
    assert bake(capsys, manifest, tag)[0] == 0
    proxy.seen.clear()
    assert bake(capsys, manifest, tag)[0] == 0
    reads_without = _tag_reads_before_the_first_push(proxy.seen)
    old = registry.api.tag_digest("team/app", "baked")
    proxy.seen.clear()
    code, document = bake(capsys, manifest, tag, extra=REVOKE)
    assert code == 0, document
    assert document["revoked"] == [{"repository": f"{proxy.host}/team/app", "digest": old}]
    assert (document["kept"], document["left"]) == ([], [])
    assert registry.api.tag_digest("team/app", old) is None  # the superseded image is gone
    assert registry.api.tag_digest("team/app", "baked") == document["digest"]
    seen = list(proxy.seen)
    # The revocation's "what does the tag name now" is the undo's read: no HEAD, no extra GET.
    assert _tag_reads_before_the_first_push(seen) == reads_without
    assert {method for method, _ in reads_without} == {"GET"}
    tag_put = seen.index(("PUT", "/v2/team/app/manifests/baked"))
    deletes = [i for i, (method, _) in enumerate(seen) if method == "DELETE"]
    assert deletes and min(deletes) > tag_put  # nothing deleted before every tag moved


def test_a_failed_bake_is_undone_and_revokes_nothing(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    first, second = f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second"
    assert bake(capsys, manifest, first)[0] == 0
    old = registry.api.tag_digest("team/app", "first")
    proxy.seen.clear()
    _refuse_tag(proxy, "second")
    code, document = bake(capsys, manifest, first, second, extra=REVOKE)
    assert code == 1, document
    assert (document["left"], document["not_restored"]) == ([], [])
    assert "revoked" not in document
    assert registry.api.tag_digest("team/app", "first") == old  # put back by the undo
    assert registry.api.tag_digest("team/app", old) == old  # and the old image never revoked
    assert ("DELETE", f"/v2/team/app/manifests/{old}") not in proxy.seen


ERROR = (500, {"Content-Type": "application/json"}, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}')


def test_a_revocation_whose_scan_is_incomplete_exits_1_naming_the_superseded_digest_and_deletes_nothing(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    tag = f"{proxy.host}/team/app:baked"
    assert bake(capsys, manifest, tag)[0] == 0
    old = registry.api.tag_digest("team/app", "baked")
    assert old is not None
    raw, media_type = registry.api.manifest("team/app", old)
    registry.api.put_manifest("team/app", "other", raw, media_type)  # read after the bake: refused
    proxy.rewrite = lambda method, path: ERROR if path.endswith("/manifests/other") else path

    proxy.seen.clear()
    # The tag "other" names the superseded digest; a scan that cannot read it must not delete it.
    code, document = bake(capsys, manifest, tag, extra=REVOKE)
    assert code == 1, document
    assert registry.api.tag_digest("team/app", "baked") == document["digest"]  # the bake stands
    assert document["revoked"] == []
    assert [(d["repository"], d["digest"]) for d in document["not_revoked"]] == [
        (f"{proxy.host}/team/app", old)
    ]
    assert "other" in document["not_revoked"][0]["why"]
    assert not [p for m, p in proxy.seen if m == "DELETE"]
    assert registry.api.tag_digest("team/app", "other") == old  # the tag still names it


def test_overlapping_rebakes_of_one_tag_leave_no_superseded_image_of_the_first_pullable(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two --revoke-superseded bakes of one tag overlap: both read the tag before either moves it;
    # the first (another process, straight to the registry) moves it and revokes what it named;
    # then the second moves it.  The first one's image must not stay pullable by its digest.
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    assert bake(capsys, manifest, f"{registry.host}/team/app:baked")[0] == 0
    original = registry.api.tag_digest("team/app", "baked")
    other: list[dict[str, Any]] = []
    args = ("--tag", f"{registry.host}/team/app:baked", *REVOKE)

    def first_bake_runs_meanwhile(method: str, path: str, status: int) -> None:
        if other or (method, status) != ("GET", 200) or not path.endswith("/manifests/baked"):
            return  # the bake's read of the tag (its answer not yet sent on), once
        done = subprocess.run(
            [sys.executable, "-m", "baker", "build", "--in-registry", "-f", str(manifest), "--json", *args],
            capture_output=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        other.append(json.loads(done.stdout))

    proxy.after = first_bake_runs_meanwhile
    code, document = bake(capsys, manifest, f"{proxy.host}/team/app:baked", extra=REVOKE)
    assert code == 0, document
    first = other[0]
    assert first["revoked"] == [{"repository": f"{registry.host}/team/app", "digest": original}]
    assert registry.api.tag_digest("team/app", "baked") == document["digest"]
    assert {"repository": f"{proxy.host}/team/app", "digest": first["digest"]} in document["revoked"]
    assert registry.api.tag_digest("team/app", first["digest"]) is None  # not pullable by digest

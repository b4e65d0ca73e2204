"""Red team round 7 on the in-registry undo's fallback (bc48d77, `inregistry_undo._put_back`): when
putting back the re-read (what the tag named just before this bake moved it) fails, the first read
(what it named before this bake began) is put back instead.

Debian's docker-registry fronted by the loopback proxy of tests/redteam/proxy.py, values from the
emulator over TLS; the overlapping bake runs through the Python API on a thread, ordered against the
first by the proxy's hooks (as tests/redteam/test_rt5_registry_order.py).  Each finding is an
xfail(strict) reproduction: it fails (XPASS) once fixed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from baker.errors import BakerError
from baker.image import inregistry
from tests.integration.test_build_inregistry import bake, inregistry_manifest, vault
from tests.integration.test_build_inregistry_undo import DENIED, _fronted
from tests.redteam.proxy import proxies
from tests.redteam.test_rt5_registry_order import _other_bake
from tests.support import oci_bases
from tests.support.oci_bases import StartRegistry, push_base

__all__ = ["proxies", "vault"]  # fixtures
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture
WAIT = 60.0
UNAVAILABLE = (
    503,
    {"Content-Type": "application/json"},
    b'{"errors":[{"code":"UNAVAILABLE","message":"service unavailable, try again"}]}',
)


@pytest.mark.parametrize(
    ("deletes", "existed"),
    [(False, True), (True, True), (True, False)],
    ids=["no-deletes", "deletes", "deletes-new-tag"],
)
def test_rt7_1_a_transient_put_back_failure_never_reverts_a_completed_overlapping_bake(
    deletes: bool,
    existed: bool,
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """rt7-1 (medium): B2 reads `first` (A) before resolving; B1 bakes `first` meanwhile and
    COMPLETES (N1, exit 0, nothing revoked); B2 re-reads `first` (N1), moves it (N2), then fails on
    its second tag.  B2's undo PUTs N1's bytes back; the registry answers 503 once (busy, a
    restart, a proxy's blip: N1 is intact).  `_put_back` takes any ImageError for "the overlapping
    bake's image is gone" and puts back A: the failed bake B2 leaves `first` on the image that B1's
    completed bake replaced (A's values, older than B1's), and says nothing is left to restore.
    Expected: `first` names N1 (B1's, completed), or B2 names it among what it could not restore and
    never points it at A, which no run wants there any more.  `deletes-new-tag`: `first` did not
    exist before B2 began (its first read: 404), so the fallback counts it as new, and B2's delete
    of N2 untags it: the tag B1's completed bake made is gone."""
    registry, proxy = _fronted(registries, proxies, deletes=deletes)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    first = f"{proxy.host}/team/app:first"
    if existed:
        assert bake(capsys, manifest, first)[0] == 0
    before = registry.api.tag_digest("team/app", "first")  # A (None: no such tag yet)
    assert (before is not None) == existed

    b1_outcome: list[BaseException | object] = []
    b1_thread: list[threading.Thread] = []
    b1_done = threading.Event()
    seen_first_read: list[bool] = []
    named: list[str | None] = []
    refused: list[str] = []

    def run_b1() -> None:
        other, resolved = _other_bake(base.ref, "rt7-other-bake-value-8d21f0")
        try:
            b1_outcome.append(
                inregistry.bake_in_registry(other, resolved, tags=[first], on_line=lambda _: None)
            )
        except BakerError as exc:
            b1_outcome.append(exc)
        finally:
            b1_done.set()

    def rewrite(method: str, path: str) -> Any:
        if (method, path) == ("PUT", "/v2/team/app/manifests/b2-second"):
            return DENIED  # B2 fails after moving `first`
        # B1's and B2's moves of `first` done: the next PUT of it is B2's undo putting N1 back
        if (method, path) == ("PUT", "/v2/team/app/manifests/first") and len(named) == 2 and not refused:
            refused.append(path)
            return UNAVAILABLE
        return path

    def after(method: str, path: str, status: int) -> None:
        if (
            (method, path) == ("GET", "/v2/team/app/manifests/first")
            and status in (200, 404)
            and not seen_first_read
        ):
            seen_first_read.append(True)  # B2's first read (before its resolution): B1 runs whole now
            thread = threading.Thread(target=run_b1, daemon=True)
            b1_thread.append(thread)
            thread.start()
            assert b1_done.wait(WAIT)
        elif (method, path) == ("PUT", "/v2/team/app/manifests/first") and status == 201:
            named.append(registry.api.tag_digest("team/app", "first"))

    proxy.rewrite, proxy.after = rewrite, after
    code, document = bake(capsys, manifest, first, f"{proxy.host}/team/app:b2-second")
    b1_thread[0].join(WAIT)
    assert not isinstance(b1_outcome[0], BaseException), b1_outcome  # B1 completed
    assert code == 1, document
    n1 = named[0]
    assert n1 is not None and n1 != before
    assert refused  # the undo's put-back was asked, and refused once
    now = registry.api.tag_digest("team/app", "first")
    assert now != before, {"now": now, "A": before, "N1": n1, "b2_said": document}
    restored = now == n1
    said_not_restored = "first" in str(document)
    assert restored or said_not_restored, {"now": now, "N1": n1, "b2_said": document}

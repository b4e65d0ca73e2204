"""Red-team round 3 follow-up (rt3): stop signals at chosen moments of a `build --in-registry
--revoke-superseded` re-bake (Debian's docker-registry with deletes, behind the loopback proxy of
tests/redteam/proxy.py, which signals baker after its Nth request was answered).  Bounded trials.

What must hold after any stop: the tag names the old image or the new one (never anything else);
when it names the new one and the superseded old image is still pullable, baker's exit is not 0
and its stderr names the old digest; no value reaches stdout or stderr."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_build_inregistry import SECRETS, inregistry_manifest, vault
from tests.integration.test_build_inregistry_undo import ROOT, _fronted
from tests.redteam.proxy import proxies
from tests.support import oci_bases
from tests.support.oci_bases import StartRegistry, push_base

__all__ = ["proxies", "vault"]  # fixtures
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture


def _run(manifest: Path, tag: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "baker", "build", "--in-registry", "-f", str(manifest), "--tag", tag]
    args += ["--revoke-superseded"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


TRIALS = [int(x) for x in os.environ.get("RT3_STOP_AT", "").split(",") if x] or [5, 15, 25, 35]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_stop_during_a_revoking_rebake_never_leaves_the_superseded_image_unsaid(
    signum: signal.Signals, registries: StartRegistry, proxies: Any, vault: Emulator, tmp_path: Path
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    problems: list[str] = []
    for n, stop_at in enumerate(TRIALS):
        repo = f"team/app{n}"
        base = push_base(registry.api, repo, attestation=False)
        manifest = inregistry_manifest(tmp_path / f"b{n}.yaml", vault, base.ref)
        tag = f"{proxy.host}/{repo}:baked"
        first = _run(manifest, tag)
        first.communicate(timeout=90)
        assert first.returncode == 0
        old = registry.api.tag_digest(repo, "baked")
        count = [0]
        child: list[subprocess.Popen[bytes]] = []

        def after(
            method: str,
            path: str,
            status: int,
            *,
            at: int = stop_at,
            count: list[int] = count,
            child: list[Any] = child,
        ) -> None:
            count[0] += 1
            if count[0] == at and child:
                os.kill(child[0].pid, signum)

        proxy.after = after
        child.append(_run(manifest, tag))
        out, err = child[0].communicate(timeout=90)
        proxy.after = None
        code, text = child[0].returncode, out.decode() + err.decode()
        now = registry.api.tag_digest(repo, "baked")
        still = old is not None and registry.api.tag_digest(repo, old) is not None
        summary = f"stop at {stop_at}/{count[0]}: exit {code}, tag {'moved' if now != old else 'kept'}"
        summary += f", old {'pullable' if still else 'gone'}"
        print(summary)
        if code not in (0, 1, 130):
            problems.append(summary + ": odd exit")
        if now != old and still and (code == 0 or str(old) not in text):
            problems.append(summary + ": superseded image left unsaid\n" + text)
        if any(v in text for v in SECRETS.values() if len(v) > 8):
            problems.append(summary + ": a value printed")
    assert not problems, "\n".join(problems)

"""Red team round 5: stop signals at the registry road's new moments (rtf-4), bounded trials.

A two-tag `build --in-registry --revoke-superseded --debug` re-bake (Debian's docker-registry with
deletes, behind tests/redteam/proxy.py) is signalled right after a chosen read of a tag was
answered: the first reads (before any value is fetched), each tag's re-read (just before it
moves), and between the first tag's move and the second's re-read.  What must hold: both tags name
the old image or both the new one (a stop before the first tag undoes; from the first tag on, the
bake completes); a stop at a first read fetches no value; an exit of 0, 1 or 130 and no traceback;
no value, client secret or registry password in stdout or stderr; when the tags moved and the
superseded image is still pullable, the exit is not 0 and the old digest is named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_build_inregistry import CLIENT_SECRET, SECRETS, inregistry_manifest, vault
from tests.integration.test_build_inregistry_undo import ROOT, _fronted
from tests.redteam.proxy import proxies
from tests.support import oci_bases
from tests.support.oci_bases import USER, StartRegistry, push_base

__all__ = ["proxies", "vault"]  # fixtures
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

# (which tag's GET answered with 200, the how-manieth of them) -> the moment
MOMENTS = {
    "first-read-1": ("one", 1),
    "first-read-2": ("two", 1),
    "re-read-1": ("one", 2),
    "re-read-2": ("two", 2),
}
CANARIES = [v for v in SECRETS.values() if len(v.strip()) > 8] + [CLIENT_SECRET, USER[1]]


def _run(manifest: Path, *tags: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "baker", "--debug", "build", "--in-registry", "-f", str(manifest)]
    for tag in tags:
        args += ["--tag", tag]
    args += ["--revoke-superseded"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


# One of the four (signal, count) pairs the red team ran (16 trials, all held), 4 trials, so the
# suite keeps its time: two SIGINTs (the second escapes a held region; SIGTERM acts as the first).
@pytest.mark.parametrize(("signum", "signals"), [(signal.SIGINT, 2)], ids=["SIGINT-two-signals"])
def test_rt5_a_stop_at_a_tag_read_leaves_both_tags_together_and_fetches_nothing_before_resolution(
    signum: signal.Signals,
    signals: int,
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    problems: list[str] = []
    for n, (moment, (which, nth)) in enumerate(MOMENTS.items()):
        repo = f"team/stop{n}"
        base = push_base(registry.api, repo, attestation=False)
        manifest = inregistry_manifest(tmp_path / f"b{n}.yaml", vault, base.ref)
        tags = (f"{proxy.host}/{repo}:one", f"{proxy.host}/{repo}:two")
        first = _run(manifest, *tags)
        first.communicate(timeout=90)
        assert first.returncode == 0
        old = registry.api.tag_digest(repo, "one")
        assert old == registry.api.tag_digest(repo, "two")
        vault.reset_stats()
        count = [0]
        fetched_at_stop: list[int] = []
        child: list[subprocess.Popen[bytes]] = []

        def after(
            method: str,
            path: str,
            status: int,
            *,
            repo: str = repo,
            which: str = which,
            nth: int = nth,
            count: list[int] = count,
            child: list[Any] = child,
            fetched_at_stop: list[int] = fetched_at_stop,
        ) -> None:
            if (method, path, status) == ("GET", f"/v2/{repo}/manifests/{which}", 200):
                count[0] += 1
                if count[0] == nth and child:
                    fetched_at_stop.append(sum(1 for r in vault.requests() if r.path.startswith("/secrets/")))
                    for _ in range(signals):
                        os.kill(child[0].pid, signum)

        proxy.after = after
        child.append(_run(manifest, *tags))
        out, err = child[0].communicate(timeout=90)
        proxy.after = None
        code, text = child[0].returncode, out.decode() + err.decode()
        one, two = registry.api.tag_digest(repo, "one"), registry.api.tag_digest(repo, "two")
        still = registry.api.tag_digest(repo, str(old)) is not None
        fetched = sum(1 for r in vault.requests() if r.path.startswith("/secrets/"))
        summary = (
            f"{signum.name} x{signals} at {moment}: exit {code}, tags {'moved' if one != old else 'kept'}/"
            f"{'moved' if two != old else 'kept'}, old {'pullable' if still else 'gone'}, "
            f"secret GETs at the stop {fetched_at_stop}, in all {fetched}"
        )
        print(summary)
        if not fetched_at_stop:
            problems.append(summary + ": the moment never came")
            continue
        if code not in (0, 1, 130):
            problems.append(summary + ": odd exit")
        if "Traceback" in text:
            problems.append(summary + ": a traceback\n" + text)
        if one != two or None in (one, two):
            problems.append(summary + ": the tags name different images\n" + text)
        if moment.startswith("first-read") and fetched:
            problems.append(summary + ": a value fetched after a stop before resolution")
        if one != old and still and (code == 0 or str(old) not in text):
            problems.append(summary + ": superseded image left unsaid\n" + text)
        if any(canary in text for canary in CANARIES):
            problems.append(summary + ": a canary printed")
    assert not problems, "\n".join(problems)

"""Canaries on the undo path of `build --in-registry` (baker.image.inregistry_undo): a bake refused
at its second tag after the first moved, at every verbosity, on a registry that deletes (what the
bake pushed is deleted and named) and on one that does not (it is left and named, the new tag is
named as not put back).  No form of a value in stdout or stderr, nor in the working or temp area."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from baker.emulator import Emulator
from tests.integration.test_canaries import VERBOSITIES, _leaks, _manifest, _run, canary_emulator
from tests.redteam.proxy import proxies
from tests.support import oci_bases
from tests.support.oci_bases import USER, StartRegistry, push_base

__all__ = ["canary_emulator", "proxies"]  # the fixtures, imported to be used here

pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture
DENIED = (403, {"Content-Type": "application/json"}, b'{"errors":[{"code":"DENIED","message":"immutable"}]}')


@pytest.mark.parametrize("deletes", [True, False], ids=["deletes", "no-deletes"])
@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_an_undone_bake_names_what_it_left_and_never_a_value(
    verbosity: list[str],
    deletes: bool,
    canary_emulator: Emulator,
    registries: StartRegistry,
    proxies: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    tmp_area = tmp_path / "tmp"
    tmp_area.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_area))
    registry = registries(deletes=deletes)
    proxy = proxies(registry.host)
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    document: dict[str, Any] = json.loads(config.read_text())
    document["auths"][proxy.host] = {"auth": base64.b64encode(":".join(USER).encode()).decode()}
    config.write_text(json.dumps(document))
    base = push_base(registry.api, "canary/base")
    first, second = f"{proxy.host}/canary/app:first", f"{proxy.host}/canary/app:second"
    work = tmp_path / "work"
    work.mkdir()
    manifest = str(_manifest(work / "baker.yaml", canary_emulator, base.ref, first))
    proxy.rewrite = lambda method, path: (
        DENIED if method == "PUT" and path.endswith("/manifests/second") else path
    )
    code, text = _run(
        capfd, ["build", "--in-registry", "-f", manifest, "--tag", first, "--tag", second, *verbosity]
    )
    assert code == 1, text
    assert _leaks(text) == []
    assert ("deleted what this bake had pushed" in text) is deletes
    assert ("left in the registry, holding values" in text) is not deletes
    assert list(tmp_area.iterdir()) == []
    assert sorted(p.name for p in work.iterdir()) == ["baker.yaml"]

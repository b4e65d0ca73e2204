"""`baker build`'s usage errors come before any engine or vault is contacted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baker.cli import main


def _manifest(path: Path, image: dict[str, object]) -> Path:
    path.write_text(json.dumps({"version": 1, "image": image, "env": {"A": "value-a"}}))
    return path


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--push"], "--push needs a tag"),
        (["--if-stale"], "--if-stale needs a tag to compare with"),
        (["--tag", "Not A Tag"], "not a valid image name"),
    ],
)
def test_build_is_refused_before_any_network_when_usage_is_wrong(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # any engine call would fail
    manifest = _manifest(tmp_path / "baker.yaml", {"from": "baker-test/busybox:1"})
    code = main(["build", "-f", str(manifest), *flags, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert message in document["message"]
    assert code == 2

"""The wheel ships every package under baker/: a package left out of pyproject.toml's explicit list
imports from a checkout (and so in the editable install the suite runs) but not from a plain
`pip install`, which is how the GitHub Action, the Azure template and the GitLab component install
baker (seen: `baker.check` and `baker.image.appbuild` missing, `baker check` failing with
ModuleNotFoundError under act)."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_under_baker_is_in_the_wheel() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "baker").rglob("__init__.py")
    }
    assert on_disk - listed == set()

"""`import baker` is the Python API a CI script uses; it stays light until a name is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import baker


@pytest.mark.parametrize("name", baker.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(baker, name) is not None


def test_importing_baker_loads_neither_azure_nor_docker() -> None:
    code = "import sys, baker; print(any(m.startswith(('azure', 'docker')) for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        baker.no_such_thing  # noqa: B018

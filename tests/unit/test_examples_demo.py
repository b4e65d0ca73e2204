"""examples/demo.py's one change to the machine: when `*.localhost` does not resolve, and only as
root, it appends a marked block to /etc/hosts (and says so and how to undo it); otherwise it prints
the lines to add.  It never installs a package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"
NAMES = ("login.localhost", "demo.vault.localhost")


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("baker_demo_script", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_nothing_changes_when_the_names_resolve(demo: ModuleType) -> None:
    assert demo.localhost_fix(missing=[], is_root=True, hosts_text="") == demo.LocalhostFix("none", "")


def test_root_appends_a_marked_block_naming_only_the_missing_names(demo: ModuleType) -> None:
    fix = demo.localhost_fix(missing=list(NAMES), is_root=True, hosts_text="127.0.0.1 localhost\n")
    assert fix.action == "append"
    lines = fix.block.splitlines()
    assert lines[0] == demo.HOSTS_BEGIN and lines[-1] == demo.HOSTS_END
    assert lines[1:-1] == ["127.0.0.1 login.localhost demo.vault.localhost"]


def test_not_root_is_told_the_lines_to_add_and_nothing_is_written(demo: ModuleType) -> None:
    fix = demo.localhost_fix(missing=list(NAMES), is_root=False, hosts_text="")
    assert fix.action == "advise"
    assert "127.0.0.1 login.localhost demo.vault.localhost" in fix.block


def test_a_block_already_there_is_never_appended_twice(demo: ModuleType) -> None:
    existing = demo.hosts_block(NAMES)
    fix = demo.localhost_fix(missing=list(NAMES), is_root=True, hosts_text=f"127.0.0.1 localhost\n{existing}")
    assert fix.action == "advise"


def test_apply_appends_to_the_hosts_file_and_keeps_what_was_there(
    demo: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost")  # no final newline
    demo.apply_localhost_fix(demo.localhost_fix(list(NAMES), True, hosts.read_text()), hosts)
    text = hosts.read_text()
    assert text.startswith("127.0.0.1 localhost\n" + demo.HOSTS_BEGIN + "\n")
    assert text.endswith(demo.HOSTS_END + "\n")
    out = capsys.readouterr().out
    assert str(hosts) in out and "127.0.0.1 login.localhost demo.vault.localhost" in out
    assert "/^# >>> baker demo/,/^# <<< baker demo/d" in out  # how to remove it


def test_the_demo_never_installs_a_package() -> None:
    text = DEMO.read_text()
    assert "apt-get" not in text and 'libnss-myhostname"' not in text

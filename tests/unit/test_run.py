"""`baker.run` offline: the environment CMD gets, the command lookup, the refusals (no fetch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from baker import run
from baker.cli import main
from baker.errors import CommandNotRun
from baker.model import LiteralValue
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.support.manifests import write_manifest


def _resolved(**values: str) -> ResolvedEnv:
    return ResolvedEnv(
        tuple(Resolved(k, Secret(v), LiteralValue("x"), None, None) for k, v in values.items())
    )


def test_the_environment_is_the_callers_bytes_with_each_value_set_over_it() -> None:
    caller = {b"KEEP": b"\xff not utf-8", b"PEM": b"old"}
    env = run.environment(_resolved(PEM="-----BEGIN-----\r\n$x \\ é\n", NEW=" pad "), caller)
    assert env == {
        b"KEEP": b"\xff not utf-8",
        b"PEM": "-----BEGIN-----\r\n$x \\ é\n".encode(),
        b"NEW": b" pad ",
    }
    assert caller[b"PEM"] == b"old"  # the caller's mapping is not changed


@pytest.mark.parametrize("value", ["a\x00b", "lone \ud800 surrogate"], ids=["nul", "surrogate"])
def test_a_value_no_environment_can_carry_is_refused_by_name_never_by_value(value: str) -> None:
    with pytest.raises(CommandNotRun) as caught:
        run.environment(_resolved(BAD_ONE=value), {})
    assert caught.value.exit_code == 1
    assert "BAD_ONE" in caught.value.message
    assert value not in caught.value.message


def test_a_command_is_looked_up_on_the_callers_path_as_a_shell_does(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert run.find_command("tool", str(tmp_path)) == str(tool)
    with pytest.raises(CommandNotRun) as missing:
        run.find_command("no-such-tool", str(tmp_path))
    assert missing.value.exit_code == run.NOT_FOUND
    tool.chmod(0o644)
    with pytest.raises(CommandNotRun) as refused:
        run.find_command(str(tool))
    assert refused.value.exit_code == run.NOT_RUNNABLE
    with pytest.raises(CommandNotRun) as directory:
        run.find_command(str(tmp_path))
    assert directory.value.exit_code == run.NOT_RUNNABLE


def test_run_without_a_command_is_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_manifest(tmp_path, base="busybox", env={"A": "b"})
    assert main(["run", "-f", str(manifest), "--"]) == 2
    assert "baker run needs a command" in capsys.readouterr().err


FILES = {"/run/secrets/one": "literal one", "/etc/app/two": "literal two"}


def test_run_refuses_files_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path, base="busybox", env={"A": "b"}, files=FILES)
    assert main(["run", "-f", str(manifest), "--", "true"]) == 2
    err = capsys.readouterr().err
    assert "baker run gives values through the environment only" in err
    assert "/run/secrets/one, /etc/app/two" in err and "baker build" in err


def test_render_says_files_are_baked_only_by_build_and_renders_the_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path, base="busybox", env={"A": "b"}, files=FILES)
    assert main(["render", "-f", str(manifest), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "files: are baked only by `baker build`" in err
    rendered = "".join(p.read_text() for p in (tmp_path / "out").iterdir())
    assert "literal one" not in rendered and "/run/secrets/one" not in rendered

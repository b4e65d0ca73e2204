"""`baker run -- CMD`: the values reach CMD byte for byte, baker becomes CMD (its pid, its exit
status, its signals), and nothing about a value is printed, at any verbosity.

Real parts: the emulator over TLS with the unmodified SDK, and a real `python -m baker` process (an
exec inside the test process would replace pytest).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from baker.emulator import Emulator
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest

pytestmark = pytest.mark.emulator

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "CANARY-run-client-secret-5e1d"
VALUES = {
    "PEM": "-----BEGIN CANARY KEY-----\nCANARYRUNLINE1abc\r\nCANARYRUNLINE2def\n-----END CANARY KEY-----\n",
    "QUOTES": "CANARY-run 'single' \"double\" `back`",
    "DOLLAR": "CANARY-run-$HOME-${PATH}-$(id)-$$",
    "BACKSLASH": "CANARY-run\\n\\t\\\\end\\",
    "HASH_EQ": "CANARY-run #not-a-comment =a=b=",
    "TABS_CRLF": "CANARY-run\ttab\r\ncrlf\r\n",
    "SPACES": "   CANARY-run-padded   ",
    "UNICODE": "CANARY-run-ünï©ødé-😀-\u200b-tail",
}
JSON_FIELD = 'CANARY-run-json-$"\\x9-field'


def _forms(value: str) -> set[str]:
    forms = {value.strip(), json.dumps(value)[1:-1], base64.b64encode(value.encode()).decode()[:16]}
    forms.update(line.strip() for line in value.replace("\r", "").split("\n") if "CANARY" in line)
    forms.add(urllib.parse.quote(value.strip(), safe=""))
    return {f for f in forms if len(f) >= 8}


NEEDLES = set().union(*(_forms(v) for v in VALUES.values()), _forms(JSON_FIELD), _forms(CLIENT_SECRET))
CHILD = (
    "import json, os, sys\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump({k.decode('latin-1'): v.hex() for k, v in os.environb.items()}, f)\n"
    "    json.dump(os.getpid(), open(sys.argv[1] + '.pid', 'w'))\n"
)


@pytest.fixture
def run_env(emulator_factory: EmulatorFactory, tmp_path: Path) -> tuple[Emulator, dict[str, str], Path]:
    secrets = {f"run-{name.lower().replace('_', '-')}": value for name, value in VALUES.items()}
    secrets["run-json"] = json.dumps({"pw": JSON_FIELD})
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={"run": {"grants": [{"app": APP, "scope": "vault"}], "secrets": secrets}},
    )
    emu = emulator_factory(world)
    env = {**os.environ, **emu.client_env(), "AZURE_CLIENT_SECRET": CLIENT_SECRET, "OVERRIDDEN": "caller"}
    env.pop("PYTHONPATH", None)
    names = {name: {"secret": f"run-{name.lower().replace('_', '-')}"} for name in VALUES}
    manifest = write_manifest(
        tmp_path,
        base="busybox:latest",
        credentials={"run": azure_credential(emu.vault_url("run"), TENANT, APP)},
        env={
            **names,
            "JSON_PW": {"secret": "run-json#pw"},
            "LITERAL": "a literal = # $x",
            "OVERRIDDEN": "from-the-manifest",
        },
    )
    return emu, env, manifest


def _baker(*args: str, env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "baker", *args], env=env, capture_output=True, timeout=120, **kwargs
    )


@pytest.mark.parametrize("verbosity", [[], ["--debug"], ["--json"]], ids=lambda v: " ".join(v) or "plain")
def test_run_gives_every_value_byte_exact_and_prints_none(
    verbosity: list[str], run_env: tuple[Emulator, dict[str, str], Path], tmp_path: Path
) -> None:
    _, env, manifest = run_env
    seen = tmp_path / "seen.json"
    result = _baker(
        "run", "-f", str(manifest), *verbosity, "--", sys.executable, "-c", CHILD, str(seen), env=env
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    child = {k: bytes.fromhex(v) for k, v in json.loads(seen.read_text()).items()}
    for name, value in VALUES.items():
        assert child[name] == value.encode("utf-8"), name
    assert child["JSON_PW"] == JSON_FIELD.encode("utf-8")
    assert child["LITERAL"] == b"a literal = # $x"
    assert child["OVERRIDDEN"] == b"from-the-manifest"  # the manifest's value replaces the caller's
    assert child["AZURE_AUTHORITY_HOST"] == env["AZURE_AUTHORITY_HOST"].encode()  # the caller's env kept
    printed = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    assert sorted(n for n in NEEDLES if n in printed) == []
    assert result.stdout == b""  # stdout is CMD's: baker prints no result document on success
    if "--debug" in verbosity:
        assert b"Request URL" in result.stderr  # the debug log (the SDK's included) did speak


def test_run_becomes_the_command_its_pid_and_its_exit_code(
    run_env: tuple[Emulator, dict[str, str], Path], tmp_path: Path
) -> None:
    _, env, manifest = run_env
    seen = tmp_path / "seen.json"
    script = CHILD + "sys.exit(42)\n"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baker",
            "run",
            "-f",
            str(manifest),
            "--",
            sys.executable,
            "-c",
            script,
            str(seen),
        ],
        env=env,
    )
    assert process.wait(timeout=120) == 42
    assert json.loads(Path(f"{seen}.pid").read_text()) == process.pid  # exec: no child process


def test_a_command_killed_by_a_signal_is_seen_so_and_a_shell_says_128_plus_n(
    run_env: tuple[Emulator, dict[str, str], Path],
) -> None:
    _, env, manifest = run_env
    direct = _baker("run", "-f", str(manifest), "--", "sh", "-c", "kill -TERM $$", env=env)
    assert direct.returncode == -signal.SIGTERM
    baker = f"{sys.executable} -m baker run -f {manifest} -- sh -c 'kill -TERM $$'"
    shell = subprocess.run(
        ["sh", "-c", f'{baker}; echo "status=$?"'], env=env, capture_output=True, timeout=120
    )
    assert shell.stdout.decode().strip().endswith("status=143")


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 7), (signal.SIGINT, 8), (signal.SIGHUP, 9)],
    ids=["TERM", "INT", "HUP"],
)
def test_a_signal_reaches_the_command_which_decides(
    signum: signal.Signals, code: int, run_env: tuple[Emulator, dict[str, str], Path]
) -> None:
    _, env, manifest = run_env
    name = signum.name.removeprefix("SIG")
    script = f'trap "exit {code}" {name}; echo ready; while :; do sleep 0.05; done'
    process = subprocess.Popen(
        [sys.executable, "-m", "baker", "run", "-f", str(manifest), "--", "sh", "-c", script],
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        process.send_signal(signum)
        assert process.wait(timeout=30) == code
    finally:
        process.kill()
        process.wait()


def test_an_unknown_command_exits_127_before_any_secret_is_read(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        base="busybox:latest",
        credentials={
            "nowhere": azure_credential(
                "https://nowhere.invalid", "t", "c", client_secret="${NO_SUCH_SECRET_VARIABLE}"
            )
        },
        env={"X": {"secret": "x"}},
    )
    env = {**os.environ, "NO_SUCH_SECRET_VARIABLE": "s3cret-value"}
    missing = _baker("run", "-f", str(manifest), "--", "no-such-command-baker-test", env=env)
    assert missing.returncode == 127
    assert b"no-such-command-baker-test: command not found" in missing.stderr
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    refused = _baker("run", "-f", str(manifest), "--", str(script), env=env)
    assert refused.returncode == 126, refused.stderr
    assert b"cannot run it (Permission denied)" in refused.stderr


def test_the_command_dies_of_sigpipe_as_it_would_alone(tmp_path: Path) -> None:
    """Python ignores SIGPIPE; an exec would pass that on (`yes | head` never ending): baker puts the
    default back first."""
    manifest = write_manifest(tmp_path, base="busybox", env={"A": "b"})
    process = subprocess.Popen(
        [sys.executable, "-m", "baker", "run", "-f", str(manifest), "--", "yes"], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdout.read(2) == b"y\n"
    process.stdout.close()
    assert process.wait(timeout=60) == -signal.SIGPIPE

"""Canaries: plant distinctive values and a client secret, run every command at every verbosity
(including failures), and scan stdout, stderr, logs and every file left behind for any form of them.

Real parts only: the emulator over TLS with the unmodified SDK, and a real Docker engine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.manifests import azure_credential, write_manifest

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "CANARY-client-secret-7f3e9d2a"
VALUES = {
    "plain": "CANARY-plain-a1b2c3d4",
    "pem": "-----BEGIN CANARY KEY-----\nCANARYLINE1abcdef\r\nCANARYLINE2ghijkl\n-----END CANARY KEY-----\n",
    "unicode": "CANARY-ünï©ødé-😀-tail",
    "awkward": ' CANARY $HOME "q" \\back\\ #hash =eq\ttab ',
}
JSON_FIELD = 'CANARY-json-$"\\x9-field'
SECRETS = {
    "canary-plain": VALUES["plain"],
    "canary-pem": VALUES["pem"],
    "canary-unicode": VALUES["unicode"],
    "canary-awkward": VALUES["awkward"],
    "canary-json": json.dumps({"pw": JSON_FIELD, "other": "CANARY-unreferenced-field"}),
    "canary-disabled": {"value": "CANARY-disabled-value", "enabled": False},
}


def _forms(value: str) -> set[str]:
    """Every form a leak could take: the value, its lines, JSON, base64 and URL encodings."""
    forms = {value.strip(), json.dumps(value)[1:-1], base64.b64encode(value.encode()).decode()[:16]}
    forms.update(line.strip() for line in value.replace("\r", "").split("\n") if "CANARY" in line)
    forms.add(urllib.parse.quote(value.strip(), safe=""))
    return {f for f in forms if len(f) >= 8}


NEEDLES = set().union(
    *(_forms(v) for v in VALUES.values()),
    _forms(JSON_FIELD),
    _forms(CLIENT_SECRET),
    _forms("CANARY-disabled-value"),
    _forms("CANARY-unreferenced-field"),
)


def _leaks(text: str) -> list[str]:
    return sorted(n for n in NEEDLES if n in text)


@pytest.fixture
def canary_emulator(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={"canary": {"grants": [{"app": APP, "scope": "vault"}], "secrets": SECRETS}},
    )
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    return emu


def _manifest(path: Path, emu: Emulator, base: str, tag: str, *, extra: str = "") -> Path:
    env = (
        "  PLAIN: {secret: canary-plain}\n"
        "  PEM: {secret: canary_pem}\n"
        "  UNICODE: {secret: canary-unicode}\n"
        "  AWKWARD: {secret: canary-awkward}\n"
        '  JSON_PW: {secret: "canary-json#pw"}\n'
        "  REPEATED: {secret: canary-plain}\n"
    )
    credential = azure_credential(emu.vault_url("canary"), TENANT, APP)
    return write_manifest(path, base=base, tag=tag, credentials={"canary": credential}, env=env, extra=extra)


VERBOSITIES = [[], ["--debug"], ["--json"], ["--json", "--debug"]]


def _run(capfd: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    code = main(args)
    captured = capfd.readouterr()
    return code, captured.out + captured.err


def _tree_leaks(root: Path, *, allow: set[str]) -> dict[str, list[str]]:
    leaks: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_file() and path.name not in allow:
            found = _leaks(path.read_bytes().decode("utf-8", errors="replace"))
            if found:
                leaks[str(path)] = found
    return leaks


@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_no_command_prints_a_value_or_the_client_secret(
    verbosity: list[str],
    canary_emulator: Emulator,
    busybox_base: str,
    docker_client: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmp_area = tmp_path / "tmp"
    tmp_area.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_area))
    tag = f"baker-test/canary:{os.getpid()}-{len(verbosity)}-{'j' if '--json' in verbosity else 'h'}"
    manifest = str(_manifest(tmp_path / "baker.yaml", canary_emulator, busybox_base, tag))
    rendered = tmp_path / "rendered"
    runs = {
        "validate": ["validate", "-f", manifest],
        "plan": ["plan", "-f", manifest],
        "render": ["render", "-f", manifest, "--out", str(rendered)],
        "build": ["build", "-f", manifest],
        "check": ["check", "-f", manifest, "--image", tag],
        "test-connection": ["test-connection", "-f", manifest],
        "secrets list": ["secrets", "list", "-f", manifest],
    }
    leaks: dict[str, list[str]] = {}
    codes: dict[str, int] = {}
    try:
        for name, args in runs.items():
            codes[name], text = _run(capfd, [*args, *verbosity])
            if _leaks(text):
                leaks[name] = _leaks(text)
    finally:
        with contextlib.suppress(Exception):  # best-effort cleanup of a test image
            docker_client.images.remove(tag, force=True)
    assert leaks == {}
    assert codes == {
        "validate": 0,
        "plan": 0,
        "render": 0,
        "build": 0,
        "check": 0,
        "test-connection": 0,
        "secrets list": 0,
    }
    # render writes the values only into the owner-only bake file; build leaves nothing behind.
    assert _tree_leaks(rendered, allow={"docker-bake.json"}) == {}
    assert list(tmp_area.iterdir()) == []


FAILURES = {
    "wrong client secret": ("", {"AZURE_CLIENT_SECRET": "CANARY-client-secret-WRONG-1234"}),
    "missing json key": ("  BAD_KEY: {secret: 'canary-json#nope'}\n", {}),
    "disabled secret": ("  DISABLED: {secret: canary-disabled}\n", {}),
    "missing secret": ("  MISSING: {secret: canary-missing}\n", {}),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_failures_name_the_problem_without_printing_a_value(
    failure: str,
    verbosity: list[str],
    canary_emulator: Emulator,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra, env = FAILURES[failure]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    manifest = str(_manifest(tmp_path / "baker.yaml", canary_emulator, "unused:1", "unused:2", extra=extra))
    out_dir = tmp_path / "rendered"
    outputs: dict[str, str] = {}
    for args in (
        ["render", "-f", manifest, "--out", str(out_dir)],
        ["test-connection", "-f", manifest],
    ):
        code, text = _run(capfd, [*args, *verbosity])
        outputs[args[0]] = text
        # test-connection reads metadata only, so a JSON key it cannot see is no failure there.
        assert code == (0 if args[0] == "test-connection" and failure == "missing json key" else 1), text
    wrong = "CANARY-client-secret-WRONG-1234"
    assert {name: _leaks(text) for name, text in outputs.items() if _leaks(text) or wrong in text} == {}
    # a failed render writes no file holding a value
    assert not (out_dir / "docker-bake.json").exists()

"""Canaries for the value shapes (issue 19): `env_from:`, `template:` + `from:` and `certificate:`,
through every command at every verbosity (`--debug` too), on the engine road and in the registry,
succeeding and failing.  No form of a value (nor of a certificate's private key) in any output,
plan, error or file left behind; the baked images hold each value byte for byte in `Env`."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from baker.emulator import Emulator
from baker.emulator.certs import Made, make
from baker.image import engine
from tests.integration.test_canaries import VERBOSITIES, _forms, _run, _tree_leaks
from tests.support import oci_bases
from tests.support.fixtures_emulator import EmulatorFactory, small_world
from tests.support.oci_bases import StartRegistry, push_base

pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "CANARY-shapes-client-secret-7f3e"
# Every awkward thing a value may hold, in each part (multi-line PEM, quotes, `$`, backslashes, `#`,
# `=`, tabs, CRLF, surrounding spaces, Unicode, and `{{ x }}`, which must stay literal).
AWKWARD = (
    "-----BEGIN CANARY KEY-----\nCANARYKEYLINE1abcdef\nCANARYKEYLINE2ghijkl\n-----END CANARY KEY-----\n"
    " CANARY $HOME \"q\" 'q' \\b\\ #h =e\tt\r\nCANARY-crlf ünï©ødé-😀 {{ pw }} {{user}} "
)
PARTS = {"canary-user": "CANARY-user" + AWKWARD, "canary-pw": AWKWARD + "CANARY-pw\n"}
SET = {f"canary-set-item-{i}": f"CANARY-set-value-{i}-a1b2c3" for i in range(3)}
TEMPLATE = "pg://{{ user }}:{{ pw }}@db:5432/app?x={{ lit }}"


@cache
def certs() -> dict[str, Made]:
    return {
        "canary-ec-pfx": make("ec.canary.test"),
        "canary-rsa-pem": make("rsa.canary.test", key="rsa", form="pem"),
    }


def _key_pem(made: Made) -> str:
    return made.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _chain_pem(made: Made) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in made.chain)


def expected() -> dict[str, str]:
    ec, rsa = certs()["canary-ec-pfx"], certs()["canary-rsa-pem"]
    composed = f"pg://{PARTS['canary-user']}:{PARTS['canary-pw']}@db:5432/app?x={{{{ user }}}}"
    return {
        **{f"ITEM_{i}": v for i, v in enumerate(SET.values())},
        "DB_URL": composed,
        "EC_PEM": _key_pem(ec) + _chain_pem(ec),
        "EC_KEY": _key_pem(ec),
        "EC_PFX": ec.value,
        "RSA_KEY": _key_pem(rsa),
        "RSA_CERT": _chain_pem(rsa),
    }


@cache
def needles() -> frozenset[str]:
    found: set[str] = {CLIENT_SECRET}
    for value in [*PARTS.values(), *SET.values(), expected()["DB_URL"]]:
        found |= _forms(value)
    for made in certs().values():
        found |= {line for line in _key_pem(made).splitlines() if "-----" not in line and len(line) >= 16}
        found.add(made.value[40:80])  # the stored PFX/PEM, well inside it
    found.add(expected()["EC_PFX"][100:140])
    return frozenset(found)


def _leaks(text: str) -> list[str]:
    return sorted(n for n in needles() if n in text)


@pytest.fixture
def shapes_emulator(emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    secrets: dict[str, Any] = {
        **PARTS,
        **SET,
        "canary-set-off": {"value": "CANARY-set-disabled-value", "enabled": False},
        "canary-plain": {"value": "CANARY-not-a-cert-value", "content_type": "text/plain"},
        "canary-log-level": "CANARY-colliding-value-1",
    }
    for name, made in certs().items():
        secrets[name] = {"value": made.value, "content_type": made.content_type}
    world = small_world(
        tenant=TENANT,
        apps={APP: CLIENT_SECRET},
        vaults={"canary": {"grants": [{"app": APP, "scope": "vault"}], "secrets": secrets}},
    )
    world["vaults"]["narrow"] = {
        "tenant": TENANT,
        "grants": [{"app": APP, "secrets": ["canary-only"]}],
        "secrets": {"canary-only": "CANARY-narrow-value-9"},
    }
    emu = emulator_factory(world)
    for name, value in emu.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    return emu


def _manifest(
    path: Path, emu: Emulator, base: str, tag: str, *, extra: str = "", vault: str = "canary"
) -> Path:
    path.write_text(
        f"""\
version: 1
image:
  from: {base}
  tag: {tag}
credentials:
  canary:
    provider: azure-key-vault
    vault_url: {emu.vault_url(vault)}
    tenant_id: {TENANT}
    client_id: {APP}
    client_secret: ${{AZURE_CLIENT_SECRET}}
    default: true
env_from:
  - {{prefix: canary-set-}}
env:
  DB_URL:
    template: "{TEMPLATE}"
    from:
      user: {{secret: canary-user}}
      pw: {{secret: canary-pw}}
      lit: "{{{{ user }}}}"
  EC_PEM: {{certificate: canary-ec-pfx, format: pem}}
  EC_KEY: {{certificate: canary-ec-pfx, format: key}}
  EC_PFX: {{certificate: canary-ec-pfx, format: pfx-base64}}
  RSA_KEY: {{certificate: canary-rsa-pem, format: key}}
  RSA_CERT: {{certificate: canary-rsa-pem, format: cert}}
{extra}""",
        encoding="utf-8",
    )
    return path


def _env_of(pairs: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in pairs)


def _check_certificates(env: dict[str, str]) -> None:
    """The key matches the leaf, the chain is in the order stored (leaf, intermediate, root)."""
    for key_env, made in (("EC_KEY", certs()["canary-ec-pfx"]), ("RSA_KEY", certs()["canary-rsa-pem"])):
        key = serialization.load_pem_private_key(env[key_env].encode(), None)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        assert key.public_key().public_bytes(der, spki) == made.chain[0].public_key().public_bytes(der, spki)
    chain = x509.load_pem_x509_certificates(env["RSA_CERT"].encode())
    assert chain == list(certs()["canary-rsa-pem"].chain)


@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_every_command_on_the_shapes_prints_no_value_and_the_engine_bake_is_exact(
    verbosity: list[str],
    shapes_emulator: Emulator,
    busybox_base: str,
    docker_client: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmp_area = tmp_path / "tmp"
    tmp_area.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_area))
    tag = f"baker-test/canary-shapes:{os.getpid()}-{len(verbosity)}-{'j' if '--json' in verbosity else 'h'}"
    manifest = str(_manifest(tmp_path / "baker.yaml", shapes_emulator, busybox_base, tag))
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
    texts: dict[str, str] = {}
    try:
        for name, args in runs.items():
            codes[name], texts[name] = _run(capfd, [*args, *verbosity])
            if _leaks(texts[name]):
                leaks[name] = _leaks(texts[name])
        info = engine.inspect_image(tag, client=docker_client)
    finally:
        with contextlib.suppress(Exception):
            docker_client.images.remove(tag, force=True)
    assert leaks == {}
    assert codes == dict.fromkeys(runs, 0), texts
    assert "names known at bake time" in texts["plan"] or '"known": "at bake time"' in texts["plan"]
    assert "canary-set-off" in texts["build"]  # the disabled secret, skipped and named
    assert info is not None
    env = _env_of(list(info.env))
    for name, value in expected().items():
        assert env[name] == value, name
    _check_certificates(env)
    assert _tree_leaks(rendered, allow={"docker-bake.json"}) == {}
    assert list(tmp_area.iterdir()) == []


FAILURES = {
    "not a certificate": ("  BAD_CERT: {certificate: canary-plain, format: pem}\n", "canary", 1),
    "template part missing": (
        '  BAD_TPL:\n    template: "{{ a }}{{ b }}"\n'
        "    from: {a: {secret: canary-pw}, b: {secret: canary-gone}}\n",
        "canary",
        1,
    ),
    "env_from collision": ("  ITEM_1: {secret: canary-user}\n", "canary", 2),
    "list refused": ("", "narrow", 1),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("verbosity", VERBOSITIES, ids=lambda v: " ".join(v) or "plain")
def test_failing_shapes_name_the_problem_without_printing_a_value(
    failure: str,
    verbosity: list[str],
    shapes_emulator: Emulator,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    extra, vault, code = FAILURES[failure]
    manifest = str(
        _manifest(tmp_path / "baker.yaml", shapes_emulator, "unused:1", "unused:2", extra=extra, vault=vault)
    )
    out_dir = tmp_path / "rendered"
    got, text = _run(capfd, ["render", "-f", manifest, "--out", str(out_dir), *verbosity])
    assert got == code, text
    assert _leaks(text) == []
    assert not (out_dir / "docker-bake.json").exists()
    said = {
        "not a certificate": "not-a-certificate",
        "template part missing": "template part 'b'",
        "env_from collision": "ITEM_1",
        "list refused": "missing-role",
    }[failure]
    assert said in text


def test_baking_the_shapes_in_the_registry_is_exact_and_prints_no_value(
    shapes_emulator: Emulator,
    registries: StartRegistry,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    registry = registries()
    base = push_base(registry.api, "canary/base", platforms=("linux/amd64",), index=False)
    tag = f"{registry.host}/canary/shapes:baked"
    manifest = str(_manifest(tmp_path / "baker.yaml", shapes_emulator, base.ref, tag))
    code, text = _run(capfd, ["build", "--in-registry", "-f", manifest, "--json", "--debug"])
    assert code == 0, text
    check, check_text = _run(capfd, ["check", "-f", manifest, "--image", tag, "--json", "--debug"])
    assert check == 0, check_text
    assert _leaks(text + check_text) == []
    configs = []
    for path in registry.root.rglob("data"):
        if not path.is_file():
            continue
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            document = json.loads(path.read_bytes())
            if isinstance(document, dict) and "ITEM_0" in json.dumps(document.get("config", {})):
                configs.append(document)
    [config] = configs
    env = _env_of(config["config"]["Env"])
    for name, value in expected().items():
        assert env[name] == value, name
    _check_certificates(env)
    assert base64.b64decode(env["EC_PFX"])  # as stored: base64

"""End to end: the quick-start manifest against the emulator's demo world, baked by a real engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator.demo import CLIENT_SECRET, DEMO_WORLD, LEGACY_V1
from baker.image import engine
from baker.provenance import LABEL, from_label
from tests.support.fixtures_docker import ImageNames

pytestmark = [pytest.mark.docker, pytest.mark.emulator]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "baker.yaml"
SECRETS = DEMO_WORLD["vaults"]["demo"]["secrets"]

EXPECTED = {
    "LOG_LEVEL": "info",
    "OPENAI_API_KEY": SECRETS["openai-api-key"],
    "DB_USER": "app",
    "DB_PASSWORD": 'p@ss w0rd$#"q',
    "DB_PORT": "5432",
    "db_password": SECRETS["db-password"],
    "LEGACY_KEY": "legacy-v1-value",
    "TLS_KEY": SECRETS["tls-key"],
}


def test_build_bakes_the_demo_secrets_byte_exact_from_the_emulator(
    tmp_path: Path,
    emulator: Any,
    azure_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "https://demo.vault.localhost:8443" in text and "from: baker-demo/base:1" in text
    text = text.replace("https://demo.vault.localhost:8443", emulator.vault_url("demo"))
    text = text.replace("from: baker-demo/base:1", f"from: {busybox_base}")
    name = image_names()
    # The example's own image.tag is the demo's (test_demo, maybe on another worker): never touch it.
    assert "tag: baker-demo/app:baked" in text
    text = text.replace("tag: baker-demo/app:baked", f"tag: {name}")
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(text, encoding="utf-8")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)

    assert main(["build", "-f", str(manifest), "--tag", name, "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    image_names.track(document["image_id"])
    assert name in document["tags"]

    info = engine.inspect_image(name, client=docker_client)
    assert info is not None
    env = dict(item.split("=", 1) for item in info.env)
    for key, value in EXPECTED.items():
        assert env[key] == value, key
    origins = {o.env: o for o in from_label(info.labels[LABEL])}
    assert origins["LEGACY_KEY"].pinned and origins["LEGACY_KEY"].version == LEGACY_V1
    assert origins["OPENAI_API_KEY"].secret == "openai-api-key" and origins["OPENAI_API_KEY"].version
    assert origins["LOG_LEVEL"].kind == "literal"
    everything = captured.out + captured.err
    for value in (CLIENT_SECRET, SECRETS["openai-api-key"], SECRETS["db-password"], "MIIBdemo", "p@ss"):
        assert value not in everything
        assert value not in info.labels[LABEL]

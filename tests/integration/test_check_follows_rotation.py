"""`baker check` and `baker build --if-stale` with a real engine, the emulator, and a real registry:
bake, rotate, re-bake; pinned references stay quiet; disabled, deleted and manifest changes are
reported; an image is checked from its registry without being pulled.  Plus the registry token
dance against a small loopback registry that demands Bearer tokens."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator import Emulator
from baker.emulator.demo import CLIENT_ID, CLIENT_SECRET, LEGACY_V1, TENANT
from baker.errors import ImageError
from baker.image.registry import read as registry
from tests.support.fixtures_docker import ImageNames
from tests.support.manifests import azure_credential, write_manifest
from tests.support.registry import LABELS, TokenRegistry, local_registry, token_registry

__all__ = ["local_registry", "token_registry"]  # the fixtures, imported to be used here

VALUES = [
    "sk-demo-4f9a1c2e7b",
    "p@ss w0rd$#",
    "hunter2-demo-pw",
    "legacy-v1-value",
    "legacy-v2-value",
    "MIIBdemo",
    CLIENT_SECRET,
]


def _manifest(path: Path, emu: Emulator, base: str, tag: str, env: str | None = None) -> Path:
    env = env or (
        "  LOG_LEVEL: info\n"
        "  OPENAI_API_KEY:\n    secret: openai-api-key\n"
        "  DB_PASSWORD:\n    secret: database-credentials#password\n"
        "  db_password:\n    secret: db_password\n"
        f"  LEGACY_KEY:\n    secret: legacy-key\n    version: {LEGACY_V1}\n"
        "  TLS_KEY:\n    secret: tls-key\n"
    )
    credential = azure_credential(emu.vault_url("demo"), TENANT, CLIENT_ID)
    return write_manifest(path, base=base, tag=tag, credentials={"demo": credential}, env=env)


class Baker:
    """Runs `baker` commands in-process and scans every output for values."""

    def __init__(self, capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
        self.capsys = capsys
        self.manifest = manifest

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main([*argv, "-f", str(self.manifest)])
        captured = self.capsys.readouterr()
        for value in VALUES:
            assert value not in captured.out and value not in captured.err, "a value was printed"
        return code, captured.out, captured.err

    def check(self, image: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        code, out, _ = self("check", "--image", image, "--json")
        document = json.loads(out)
        assert set(document) == {"stale", "entries"}
        return code, {e["env"]: e["status"] for e in document["entries"]}, document


@pytest.fixture
def world(
    emulator: Emulator,
    azure_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> tuple[Emulator, Baker, str]:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    tag = image_names()
    manifest = _manifest(tmp_path / "baker.yaml", emulator, busybox_base, tag)
    return emulator, Baker(capsys, manifest), tag


FRESH = {
    "LOG_LEVEL": "literal",
    "OPENAI_API_KEY": "current",
    "DB_PASSWORD": "current",
    "db_password": "current",
    "LEGACY_KEY": "pinned",
    "TLS_KEY": "current",
}


@pytest.mark.docker
def test_check_follows_a_rotation_from_fresh_to_stale_to_fresh_when_rebaked(
    world: tuple[Emulator, Baker, str], image_names: ImageNames
) -> None:
    emu, baker, tag = world
    assert baker("build")[0] == 0
    first_id = image_names.image_id(tag)

    code, statuses, document = baker.check(tag)
    assert (code, statuses, document["stale"]) == (0, FRESH, False)

    emu.set_secret("demo", "openai-api-key", "sk-demo-rotated-0001")
    emu.set_secret("demo", "legacy-key", "legacy-v3-value-rotated")  # pinned: must stay quiet
    code, statuses, document = baker.check(tag)
    assert code == 3 and document["stale"] is True
    assert statuses == FRESH | {"OPENAI_API_KEY": "rotated"}
    rotated = next(e for e in document["entries"] if e["env"] == "OPENAI_API_KEY")
    assert rotated["baked_version"] != rotated["current_version"]

    code, out, _ = baker("check", "--image", tag)
    assert code == 3
    assert "OPENAI_API_KEY" in out and "rotated" in out

    code, out, _ = baker("build", "--if-stale")
    assert code == 0 and "re-bake due" in out
    second_id = image_names.track(image_names.image_id(tag))
    assert second_id != first_id
    assert baker.check(tag)[:2] == (0, FRESH)

    # Fresh now: --if-stale builds nothing and leaves the tag where it is.
    code, out, _ = baker("build", "--if-stale")
    assert code == 0
    assert "no re-bake due" in out
    assert image_names.image_id(tag) == second_id
    image_names.track(first_id)


@pytest.mark.docker
def test_check_reports_disabled_and_deleted_secrets_and_exits_1(world: tuple[Emulator, Baker, str]) -> None:
    emu, baker, tag = world
    assert baker("build")[0] == 0
    emu.set_enabled("demo", "db-password", False)
    emu.delete_secret("demo", "tls-key")
    code, statuses, document = baker.check(tag)
    assert code == 1
    assert statuses == FRESH | {"db_password": "disabled", "TLS_KEY": "deleted"}
    assert document["stale"] is False

    code, out, _ = baker("check", "--image", tag)
    assert code == 1
    assert "attention" in out and "db_password" in out and "TLS_KEY" in out

    # A re-bake cannot help: --if-stale tries, and the bake fails naming both.
    code, _, err = baker("build", "--if-stale")
    assert code == 1
    assert "db_password" in err and "TLS_KEY" in err


@pytest.mark.docker
def test_check_reports_added_removed_and_repointed_vars_when_the_manifest_changed(
    world: tuple[Emulator, Baker, str],
) -> None:
    _, baker, tag = world
    assert baker("build")[0] == 0
    text = baker.manifest.read_text(encoding="utf-8")
    text = text.replace("  LOG_LEVEL: info\n", "  LOG_LEVEL: debug\n  NEW_FLAG: on-purpose\n")
    text = text.replace("  TLS_KEY:\n    secret: tls-key\n", "")
    text = text.replace("secret: database-credentials#password", "secret: database-credentials#username")
    text = text.replace(f"    version: {LEGACY_V1}\n", "")
    baker.manifest.write_text(text, encoding="utf-8")

    code, statuses, document = baker.check(tag)
    assert code == 3 and document["stale"] is True
    assert statuses == {
        "LOG_LEVEL": "changed",  # the literal differs from the image's Env
        "NEW_FLAG": "added",
        "OPENAI_API_KEY": "current",
        "DB_PASSWORD": "changed",  # another JSON key
        "db_password": "current",
        "LEGACY_KEY": "changed",  # no longer pinned
        "TLS_KEY": "removed",
    }
    assert list(statuses)[-1] == "TLS_KEY"


@pytest.mark.docker
def test_check_exits_1_when_the_image_was_not_baked_by_baker(
    world: tuple[Emulator, Baker, str], busybox_base: str
) -> None:
    _, baker, tag = world
    code, out, _ = baker("check", "--image", busybox_base, "--json")
    assert code == 1
    assert json.loads(out)["error"] == "NoRecord"
    code, _, err = baker("check", "--image", tag)  # never built
    assert code == 1
    assert "not in the local engine" in err


@pytest.mark.docker
def test_check_reads_the_record_from_the_registry_without_pulling_the_image(
    emulator: Emulator,
    azure_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    busybox_base: str,
    image_names: ImageNames,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    local_registry: str,
    docker_client: Any,
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))  # anonymous registry
    tag = f"{local_registry}/{image_names.prefix.replace('baker-test/', 'baker-test-')}:baked"
    image_names.names.append(tag)
    baker = Baker(capsys, _manifest(tmp_path / "baker.yaml", emulator, busybox_base, tag))
    assert baker("build", "--push")[0] == 0
    image_id = image_names.image_id(tag)
    docker_client.api.remove_image(tag)
    assert not image_names.exists(tag)
    image_names.track(image_id)

    code, statuses, _ = baker.check(tag)
    assert (code, statuses) == (0, FRESH)
    code, out, _ = baker("check", "--image", tag)
    assert "registry" in out
    assert not image_names.exists(tag), "check pulled the image"

    emulator.set_secret("demo", "db-password", "hunter3-rotated-pw")
    code, statuses, _ = baker.check(tag)
    assert code == 3 and statuses["db_password"] == "rotated"

    code, _, err = baker("check", "--image", f"{local_registry}/no-such/app:1")
    assert code == 1 and "is not in its registry" in err


# --- the registry token dance, against a loopback registry that demands Bearer tokens -----------


def _docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, password: str) -> None:
    auth = base64.b64encode(f"{TokenRegistry.user}:{password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {f"http://{host}/v2/": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))


def test_registry_reads_labels_through_the_bearer_token_dance_when_logged_in(
    token_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_architecture", lambda: "amd64")
    _docker_config(tmp_path, monkeypatch, token_registry, TokenRegistry.password)
    remote = registry.fetch_config(f"{token_registry}/team/app:baked")
    assert remote is not None
    assert remote.labels["dev.baker.provenance"] == LABELS["dev.baker.provenance"]
    assert remote.labels["arch"] == "amd64"  # the index's linux/amd64 entry, not the first one
    assert remote.env == ("A=x",)


def test_registry_refuses_with_a_docker_login_hint_when_credentials_are_wrong_or_absent(
    token_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _docker_config(tmp_path, monkeypatch, token_registry, "wrong-password-C4n4ry")
    with pytest.raises(ImageError) as info:
        registry.fetch_config(f"{token_registry}/team/app:baked")
    assert "docker login" in (info.value.hint or "")
    assert "C4n4ry" not in info.value.message
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
    with pytest.raises(ImageError) as info:
        registry.fetch_config(f"{token_registry}/team/app:baked")
    assert "no `docker login` credentials" in info.value.message


def test_registry_says_none_when_the_tag_does_not_exist(
    token_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _docker_config(tmp_path, monkeypatch, token_registry, TokenRegistry.password)
    assert registry.fetch_config(f"{token_registry}/team/app:nope") is None


@pytest.mark.docker
def test_check_keeps_only_literal_values_of_the_image_env_in_memory(
    world: tuple[Emulator, Baker, str],
) -> None:
    from baker.check.record import read_baked

    _, baker, tag = world
    assert baker("build")[0] == 0
    baked = read_baked(tag)
    assert baked.env == {"LOG_LEVEL": "info"}

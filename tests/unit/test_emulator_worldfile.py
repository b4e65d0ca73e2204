"""The world file parser: the demo world, the format's shorthands, and strict refusals."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.emulator.demo import CLIENT_ID, DEMO_WORLD, LEGACY_V1, TENANT
from baker.emulator.worldfile import load_world, parse_world
from baker.errors import WorldError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "world.yaml"


def test_example_world_file_is_the_demo_world() -> None:
    from_file = load_world(EXAMPLE)
    assert from_file.tenants == parse_world(DEMO_WORLD).tenants
    assert from_file.vaults == parse_world(DEMO_WORLD).vaults


def test_demo_world_has_what_demo_world_md_says() -> None:
    world = load_world(EXAMPLE)
    vault = world.vaults["demo"]
    assert (vault.tenant, vault.model) == (TENANT, "rbac")
    assert [(g.app, g.secrets) for g in vault.grants] == [(CLIENT_ID, None)]
    assert [v.value for v in vault.secrets["legacy-key"]] == ["legacy-v1-value", "legacy-v2-value"]
    assert vault.secrets["legacy-key"][0].version == LEGACY_V1
    assert (
        vault.secrets["tls-key"][0].value == "-----BEGIN DEMO KEY-----\nMIIBdemo...\n-----END DEMO KEY-----\n"
    )


def test_version_mapping_fields_are_parsed() -> None:
    world = copy.deepcopy(DEMO_WORLD)
    world["vaults"]["demo"]["secrets"]["full"] = {
        "value": "v",
        "enabled": False,
        "exp": dt.datetime(2030, 1, 1),  # a YAML timestamp without zone: UTC
        "nbf": 0,
        "created": "2024-05-01T12:00:00Z",
        "content_type": "text/plain",
        "tags": {"a": "b"},
    }
    (full,) = parse_world(world).vaults["demo"].secrets["full"]
    assert full.enabled is False
    assert full.exp == dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert full.nbf == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    assert full.created == dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    assert (full.content_type, full.tags) == ("text/plain", {"a": "b"})


def test_expired_client_secret_is_kept_with_its_flag() -> None:
    world = copy.deepcopy(DEMO_WORLD)
    world["tenants"][TENANT]["apps"][CLIENT_ID]["secrets"].append({"value": "old", "expired": True})
    app = parse_world(world).tenants[TENANT].apps[CLIENT_ID]
    assert [(s.value, s.expired) for s in app.secrets] == [("demo-client-secret-Q7v2", False), ("old", True)]


def _edit(path: str, value: Any) -> dict[str, Any]:
    world = copy.deepcopy(DEMO_WORLD)
    keys = path.split("/")
    node = world
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[keys[-1]] = value
    return world


DEMO = "vaults/demo"


@pytest.mark.parametrize(
    ("world", "message"),
    [
        ({"tenant": {}}, "unknown key 'tenant'"),
        ([], "expected a mapping, got a list"),
        (_edit(f"{DEMO}/tenant", "no-such-tenant"), "vaults.demo.tenant: unknown tenant 'no-such-tenant'"),
        (_edit(f"{DEMO}/model", "acl"), "vaults.demo.model: 'acl' is not one of"),
        (_edit(f"{DEMO}/colour", "blue"), "vaults.demo: unknown key 'colour'"),
        (_edit(f"{DEMO}/grants", [{"app": "nobody", "scope": "vault"}]), "unknown app 'nobody'"),
        (_edit(f"{DEMO}/grants", [{"app": CLIENT_ID}]), "exactly one of 'scope: vault' or 'secrets"),
        (_edit(f"{DEMO}/grants", [{"app": CLIENT_ID, "scope": "subscription"}]), "the only scope is 'vault'"),
        (_edit(f"{DEMO}/grants", [{"app": CLIENT_ID, "secrets": ["ghost"]}]), "unknown secret 'ghost'"),
        (_edit(f"{DEMO}/grants", [{"app": CLIENT_ID, "permissions": ["get"]}]), "unknown key 'permissions'"),
        (_edit(f"{DEMO}/grants", "everyone"), "grants: expected a list"),
        (_edit(f"{DEMO}/secrets/bad_name", "v"), "a secret name is 1-127"),
        (_edit(f"{DEMO}/secrets/DB-PASSWORD", "v"), "duplicate secret name"),
        (_edit(f"{DEMO}/secrets/x", 42), "expected a mapping, got a number"),
        (_edit(f"{DEMO}/secrets/x", []), "at least one version"),
        (_edit(f"{DEMO}/secrets/x", {"valu": "typo"}), "unknown key 'valu'"),
        (_edit(f"{DEMO}/secrets/x", {"value": "v", "version": "abc"}), "32 lowercase hex"),
        (_edit(f"{DEMO}/secrets/x", {"value": "v", "enabled": "yes"}), "expected true or false"),
        (_edit(f"{DEMO}/secrets/x", {"value": "v", "exp": "tomorrow"}), "not an ISO 8601 date"),
        (_edit(f"{DEMO}/secrets/x", {"value": "v", "tags": {"n": 1}}), "tags map strings to strings"),
        (
            _edit(
                f"{DEMO}/secrets/x",
                [{"value": "a", "version": "a" * 32}, {"value": "b", "version": "a" * 32}],
            ),
            "share one version id",
        ),
        (_edit("vaults/x_y", {"tenant": TENANT}), "a vault name is 3-24"),
        (_edit(f"tenants/{TENANT}/apps/{CLIENT_ID}/secrets", "one"), "secrets: expected a list"),
        (_edit(f"tenants/{TENANT}/apps/{CLIENT_ID}/secrets", [{"expired": True}]), "missing 'value'"),
    ],
)
def test_bad_world_is_refused_naming_the_key(world: Any, message: str) -> None:
    with pytest.raises(WorldError, match=r"^<here>: ") as caught:
        parse_world(world, source="<here>")
    assert message in caught.value.message


def test_access_policy_grant_takes_permissions() -> None:
    world = _edit(f"{DEMO}/model", "access-policy")
    world["vaults"]["demo"]["grants"] = [{"app": CLIENT_ID, "permissions": ["list"]}]
    (grant,) = parse_world(world).vaults["demo"].grants
    assert grant.permissions == frozenset({"list"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tenants: {a: 1", "not valid YAML (line"),
        ("vaults: {}\nvaults: {}\n", "duplicate key 'vaults'"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_world_file_is_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(text)
    with pytest.raises(WorldError) as caught:
        load_world(path)
    assert caught.value.message.startswith(str(path))
    assert message in caught.value.message


def test_missing_world_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="cannot read the world file"):
        load_world(tmp_path / "absent.yaml")


def test_cli_exits_2_with_a_clean_message_when_world_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "world.yaml"
    path.write_text("vaults:\n  demo:\n    tenant: nobody\n")
    assert main(["emulator", "--world", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: vaults.demo.tenant: unknown tenant 'nobody'" in err
    assert "Traceback" not in err


DEEP_FLOW = "tenants: " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_BLOCK = "tenants:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 1500))
ALIAS_CHAIN = "x0: &a0 [1]\n" + "".join(f"x{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 1500))


@pytest.mark.parametrize("text", [DEEP_FLOW, DEEP_BLOCK, ALIAS_CHAIN], ids=["flow", "block", "alias-chain"])
def test_a_deeply_nested_world_file_is_refused_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(text)
    with pytest.raises(WorldError) as caught:
        load_world(path)
    assert caught.value.message.startswith(str(path))
    assert "nested" in caught.value.message


def test_a_world_file_that_is_not_utf8_is_refused_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "world.yaml"
    path.write_bytes(b"tenants:\n  t: \xff\xfe\n")
    assert main(["emulator", "--world", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: not UTF-8 text (byte 14)" in err
    assert "internal error" not in err


def test_cli_exits_2_naming_the_file_when_the_world_is_nested_too_deeply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(DEEP_FLOW)
    assert main(["emulator", "--world", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}:" in err
    assert "internal error" not in err

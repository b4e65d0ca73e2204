"""resolve() through the real Azure SDK against the emulator: values, versions, keys, several
credentials, one GET per distinct secret, concurrency."""

from __future__ import annotations

import pytest

from baker.model import SecretRef
from baker.resolver import resolve
from baker.secret import MASK, REDACTOR
from tests.support.resolve_world import (
    DB_JSON,
    PEM,
    PINNED,
    SHARED_APP,
    TRICKY,
    World,
    env_block,
    world_fixture,  # noqa: F401 - the `world` fixture
)

pytestmark = pytest.mark.emulator


def test_every_value_arrives_byte_exact_when_the_manifest_mixes_literals_keys_pins_and_names(
    world: World,
) -> None:
    m = world.manifest(
        world.credential("main", "main", default=True),
        env_block(
            {
                "LOG_LEVEL": "info",
                "OPENAI_API_KEY": "{secret: openai-api-key}",
                "DB_USER": "{secret: 'database-credentials#username'}",
                "DB_PASSWORD": "{secret: 'database-credentials#password'}",
                "DB_PORT": "{secret: 'database-credentials#port'}",
                "DB_OPTS": "{secret: 'database-credentials#opts'}",
                "DB_ALL": "{secret: database-credentials}",
                "db_password": "{secret: db_password}",
                "LEGACY_NOW": "{secret: legacy-key}",
                "LEGACY_KEY": f"{{secret: legacy-key, version: {PINNED}}}",
                "TLS_KEY": "{secret: tls-key}",
                "TRICKY": "{secret: tricky}",
            }
        ),
    )
    resolved = resolve(m)
    assert resolved.build_args() == {
        "LOG_LEVEL": "info",
        "OPENAI_API_KEY": "sk-demo-4f9a1c2e7b",
        "DB_USER": "app",
        "DB_PASSWORD": 'p@ss w0rd$#"q',
        "DB_PORT": "5432",
        "DB_OPTS": '{"ssl":true}',
        "DB_ALL": DB_JSON,
        "db_password": "hunter2-demo-pw",
        "LEGACY_NOW": "legacy-v2-value",
        "LEGACY_KEY": "legacy-v1-value",
        "TLS_KEY": PEM,
        "TRICKY": TRICKY,
    }
    by_env = {e.env: e for e in resolved.entries}
    assert by_env["LEGACY_KEY"].version == PINNED
    assert by_env["LEGACY_NOW"].version not in {None, PINNED}
    assert by_env["DB_USER"].version == by_env["DB_ALL"].version is not None
    assert by_env["LOG_LEVEL"].version is None
    assert isinstance(by_env["db_password"].source, SecretRef)
    assert by_env["db_password"].source.name == "db-password"
    assert REDACTOR.redact("pw=hunter2-demo-pw") == f"pw={MASK}"


def test_each_distinct_secret_is_read_with_one_get_when_references_repeat(world: World) -> None:
    m = world.manifest(
        world.credential("main", "main", default=True),
        env_block(
            {
                "A": "{secret: openai-api-key}",
                "B": "{secret: openai-api-key}",
                "C": "{secret: OPENAI-API-KEY}",
                "U": "{secret: 'database-credentials#username'}",
                "P": "{secret: 'database-credentials#password'}",
                "D1": "{secret: db_password}",
                "D2": "{secret: db-password}",
            }
        ),
    )
    resolve(m)
    gets = [(path, status) for method, path, status in world.vault_requests("main") if method == "GET"]
    assert sorted(path for path, status in gets if status == 200) == [
        "/secrets/database-credentials/",
        "/secrets/db-password/",
        "/secrets/openai-api-key/",
    ]
    assert [status for _, status in gets].count(401) == 1  # the one challenge
    assert world.token_requests() == 1


def test_distinct_secrets_are_read_concurrently_when_the_vault_is_slow(world: World) -> None:
    world.emu.faults.latency = 0.05
    m = world.manifest(
        world.credential("main", "main", default=True),
        env_block({f"BULK_{i:02d}": f"{{secret: bulk-{i:02d}}}" for i in range(12)}),
    )
    resolved = resolve(m, max_workers=6)
    assert resolved.build_args()["BULK_07"] == "bulk-value-07-abcdef"
    assert 1 < world.emu.peak_in_flight <= 6 + 1


def test_each_credential_reads_its_own_vault_when_the_manifest_has_several(world: World) -> None:
    credentials = world.credential("main", "main", default=True) + world.credential(
        "team", "shared", client_id=SHARED_APP, variable="SHARED_SECRET"
    )
    m = world.manifest(
        credentials,
        env_block(
            {
                "OPENAI_API_KEY": "{secret: openai-api-key}",
                "TEAM_TOKEN": "{secret: team-token, credential: team}",
                "EXPLICIT_MAIN": "{secret: db-password, credential: main}",
            }
        ),
    )
    resolved = resolve(m)
    assert resolved.build_args() == {
        "OPENAI_API_KEY": "sk-demo-4f9a1c2e7b",
        "TEAM_TOKEN": "team-token-value-551",
        "EXPLICIT_MAIN": "hunter2-demo-pw",
    }
    assert [(m, p, s) for m, p, s in world.vault_requests("shared") if s == 200] == [
        ("GET", "/secrets/team-token/", 200)
    ]
    assert world.token_requests() == 2  # one per credential


def test_the_manifest_authority_host_is_used_when_no_environment_variable_says(world: World) -> None:
    credentials = world.credential("main", "main", default=True) + (
        f"  authority_host: {world.emu.authority_host}\n"
    )
    environ = dict(world.environ)
    environ.pop("AZURE_AUTHORITY_HOST")
    world.environ = environ
    m = world.manifest(credentials, env_block({"K": "{secret: openai-api-key}"}))
    assert m.credentials["main"].authority_host == world.emu.authority_host
    assert resolve(m).build_args() == {"K": "sk-demo-4f9a1c2e7b"}

"""Every way a reference can fail, through the real SDK against the emulator: each failure names its
env var and carries the right diagnosis; no message holds a value or a client secret."""

from __future__ import annotations

import pytest

from baker.diagnose import Diagnosis
from baker.errors import ResolutionFailed
from baker.resolver import resolve
from tests.support.resolve_world import (
    APP_OLD_SECRET,
    APP_SECRET,
    DISABLED_VERSION,
    NOROLE_APP,
    OTHER_TENANT,
    SHARED_APP,
    UNKNOWN_APP,
    UNKNOWN_TENANT,
    World,
    env_block,
    world_fixture,  # noqa: F401 - the `world` fixture
)

pytestmark = pytest.mark.emulator


def failures(world: World, credentials: str, env: dict[str, str]) -> dict[str, Diagnosis | None]:
    with pytest.raises(ResolutionFailed) as caught:
        resolve(world.manifest(credentials, env_block(env)))
    text = str(caught.value) + str(caught.value.to_json())
    for value in (
        APP_SECRET,
        APP_OLD_SECRET,
        "not-the-right-secret-00",
        "disabled-value-123",
        "this is not json",
    ):
        assert value not in text
    return {f.env: f.error.diagnosis for f in caught.value.failures}


@pytest.mark.parametrize(
    ("options", "diagnosis"),
    [
        ({"variable": "WRONG_SECRET"}, Diagnosis.INVALID_CLIENT_SECRET),
        ({"variable": "OLD_SECRET"}, Diagnosis.CLIENT_SECRET_EXPIRED),
        ({"client_id": UNKNOWN_APP}, Diagnosis.APP_NOT_FOUND),
        ({"tenant": UNKNOWN_TENANT}, Diagnosis.TENANT_NOT_FOUND),
        ({"client_id": NOROLE_APP, "variable": "NOROLE_SECRET"}, Diagnosis.MISSING_ROLE),
        ({"vault_url": "https://nope.vault.invalid"}, Diagnosis.VAULT_UNREACHABLE),
    ],
)
def test_every_env_var_of_a_credential_fails_with_its_diagnosis_when_the_credential_cannot_read(
    world: World, options: dict[str, str], diagnosis: Diagnosis
) -> None:
    got = failures(
        world,
        world.credential("main", "main", default=True, **options),  # type: ignore[arg-type]
        {"A": "{secret: openai-api-key}", "B": "{secret: db-password}", "LIT": "literal-ok"},
    )
    assert got == {"A": diagnosis, "B": diagnosis}


def test_entra_is_asked_once_when_sign_in_fails_for_many_references(world: World) -> None:
    failures(
        world,
        world.credential("main", "main", default=True, variable="WRONG_SECRET"),
        {f"E{i}": f"{{secret: bulk-{i:02d}}}" for i in range(10)},
    )
    assert world.token_requests() == 1


def test_a_per_secret_grant_reads_only_its_secret_when_another_is_referenced(world: World) -> None:
    got = failures(
        world,
        world.credential("narrow", "narrow", default=True),
        {"OK": "{secret: allowed-one}", "NOPE": "{secret: forbidden-one}"},
    )
    assert got == {"NOPE": Diagnosis.MISSING_ROLE}


def test_an_access_policy_vault_is_named_legacy_when_the_app_has_no_policy(world: World) -> None:
    got = failures(world, world.credential("old", "legacy", default=True), {"OLD": "{secret: old-secret}"})
    assert got == {"OLD": Diagnosis.LEGACY_ACCESS_POLICY}


def test_an_access_policy_vault_is_read_when_the_app_has_a_policy(world: World) -> None:
    m = world.manifest(
        world.credential("old", "legacy", default=True, client_id=SHARED_APP, variable="SHARED_SECRET"),
        env_block({"OLD": "{secret: old-secret}"}),
    )
    assert resolve(m).build_args() == {"OLD": "old-policy-value-333"}


def test_all_failures_are_reported_together_when_several_references_fail(world: World) -> None:
    got = failures(
        world,
        world.credential("main", "main", default=True),
        {
            "FINE": "{secret: openai-api-key}",
            "OFF": "{secret: switched-off}",
            "OLD_OFF": f"{{secret: old-version-off, version: {DISABLED_VERSION}}}",
            "CURRENT_ON": "{secret: old-version-off}",
            "MISSING": "{secret: no-such-secret}",
            "MISSING_VERSION": "{secret: legacy-key, version: ffffffffffffffffffffffffffffffff}",
            "NOT_JSON": "{secret: 'plain-text#field'}",
            "NO_KEY": "{secret: 'database-credentials#passwd'}",
            "ALSO_MISSING": "{secret: no_such_secret}",
        },
    )
    assert got == {
        "OFF": Diagnosis.SECRET_DISABLED,
        "OLD_OFF": Diagnosis.SECRET_DISABLED,
        "MISSING": Diagnosis.SECRET_NOT_FOUND,
        "MISSING_VERSION": Diagnosis.SECRET_NOT_FOUND,
        "NOT_JSON": Diagnosis.JSON_KEY_NOT_FOUND,
        "NO_KEY": Diagnosis.JSON_KEY_NOT_FOUND,
        "ALSO_MISSING": Diagnosis.SECRET_NOT_FOUND,
    }


def test_a_failure_names_env_var_credential_and_secret_when_reported(world: World) -> None:
    with pytest.raises(ResolutionFailed) as caught:
        resolve(
            world.manifest(
                world.credential("main", "main", default=True),
                env_block({"GONE": "{secret: no_such_secret}"}),
            )
        )
    (failure,) = caught.value.failures
    assert failure.env == "GONE"
    assert failure.error.credential == "main"
    assert failure.error.secret == "no-such-secret"
    assert failure.error.evidence == "404 SecretNotFound"
    assert "GONE" in caught.value.message and "no-such-secret" in caught.value.message
    assert caught.value.hint and "baker secrets list" in caught.value.hint


def test_a_vault_of_another_tenant_fails_when_the_credential_signs_in_elsewhere(world: World) -> None:
    # The emulator's vault lives in TENANT; a credential of OTHER_TENANT is refused by azure-identity
    # (the challenge names a tenant the credential may not use) or by Entra: never a value.
    got = failures(
        world,
        world.credential("main", "main", default=True, tenant=OTHER_TENANT),
        {"A": "{secret: openai-api-key}"},
    )
    assert set(got) == {"A"}

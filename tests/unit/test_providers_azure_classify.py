"""`providers.azure.classify`: Azure's evidence, as plain data, to a diagnosis code."""

from __future__ import annotations

import pytest

from baker.diagnose import TABLE, Diagnosis
from baker.providers.azure.classify import classify

RBAC_MESSAGE = (
    "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or "
    "role definitions were changed recently, please observe propagation time.\r\nCaller: appid=x\r\n"
    "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'"
)
POLICY_MESSAGE = (
    "The user, group or application 'appid=x;oid=y' does not have secrets get permission on key vault 'v'."
)
UNKNOWN_TENANT = (
    "Authentication failed: Unable to get authority configuration for https://login.microsoftonline.com/"
    "nope. Authority would typically be in a format of https://login.microsoftonline.com/your_tenant"
)


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ({"aadsts": 7000215, "kind": "auth"}, Diagnosis.INVALID_CLIENT_SECRET),
        ({"aadsts": 7000222, "kind": "auth"}, Diagnosis.CLIENT_SECRET_EXPIRED),
        ({"aadsts": 700016, "kind": "auth"}, Diagnosis.APP_NOT_FOUND),
        ({"aadsts": 90002, "kind": "auth"}, Diagnosis.TENANT_NOT_FOUND),
        ({"aadsts": 70021, "kind": "auth"}, Diagnosis.FEDERATED_IDENTITY_MISMATCH),
        ({"aadsts": 700211, "kind": "auth"}, Diagnosis.FEDERATED_IDENTITY_MISMATCH),
        ({"aadsts": 700212, "kind": "auth"}, Diagnosis.FEDERATED_IDENTITY_MISMATCH),
        ({"aadsts": 700213, "kind": "auth"}, Diagnosis.FEDERATED_IDENTITY_MISMATCH),
        ({"aadsts": 700024, "kind": "auth"}, Diagnosis.FEDERATED_TOKEN_EXPIRED),
        ({"message": UNKNOWN_TENANT, "kind": "authority"}, Diagnosis.TENANT_NOT_FOUND),
        ({"message": UNKNOWN_TENANT, "kind": "auth"}, Diagnosis.TENANT_NOT_FOUND),
        (
            {
                "message": "The current credential is not configured to acquire tokens for tenant x.",
                "kind": "auth",
            },
            Diagnosis.TENANT_NOT_FOUND,
        ),
        ({"aadsts": 50126, "kind": "auth"}, Diagnosis.AZURE_ERROR),
        ({"message": "cannot reach Microsoft Entra", "kind": "auth"}, Diagnosis.AZURE_ERROR),
        (
            {
                "status": 403,
                "error_code": "Forbidden",
                "inner_code": "ForbiddenByRbac",
                "message": RBAC_MESSAGE,
            },
            Diagnosis.MISSING_ROLE,
        ),
        ({"status": 403, "message": RBAC_MESSAGE}, Diagnosis.MISSING_ROLE),
        (
            {
                "status": 403,
                "error_code": "Forbidden",
                "inner_code": "AccessDenied",
                "message": POLICY_MESSAGE,
            },
            Diagnosis.LEGACY_ACCESS_POLICY,
        ),
        (
            {"status": 403, "error_code": "Forbidden", "message": POLICY_MESSAGE},
            Diagnosis.LEGACY_ACCESS_POLICY,
        ),
        (
            {
                "status": 403,
                "error_code": "Forbidden",
                "inner_code": "SecretDisabled",
                "message": "Operation get is not allowed on a disabled secret.",
            },
            Diagnosis.SECRET_DISABLED,
        ),
        (
            {
                "status": 403,
                "error_code": "Forbidden",
                "message": "Operation get is not allowed on a disabled secret.",
            },
            Diagnosis.SECRET_DISABLED,
        ),
        (
            {
                "status": 403,
                "error_code": "Forbidden",
                "inner_code": "ForbiddenByFirewall",
                "message": "Client address is not authorized and caller is not a trusted service.",
            },
            Diagnosis.VAULT_UNREACHABLE,
        ),
        (
            {
                "status": 404,
                "error_code": "SecretNotFound",
                "message": "A secret with (name/id) x was not found",
            },
            Diagnosis.SECRET_NOT_FOUND,
        ),
        ({"status": 404, "error_code": "NotFound", "message": "gone"}, Diagnosis.SECRET_NOT_FOUND),
        ({"status": 404, "message": "Not Found"}, Diagnosis.AZURE_ERROR),
        (
            {"status": 429, "error_code": "Throttled", "message": "Reason: VaultRequestTypeLimitReached"},
            Diagnosis.THROTTLED,
        ),
        ({"status": 429, "message": "Too Many Requests"}, Diagnosis.THROTTLED),
        ({"kind": "connection", "message": "the host name does not resolve"}, Diagnosis.VAULT_UNREACHABLE),
        ({"status": 400, "error_code": "BadParameter", "message": "bad name"}, Diagnosis.AZURE_ERROR),
        (
            {"status": 401, "error_code": "Unauthorized", "message": "AKV10032: Invalid issuer"},
            Diagnosis.AZURE_ERROR,
        ),
        ({"status": 500, "message": "Internal Server Error"}, Diagnosis.AZURE_ERROR),
        ({"kind": "other", "message": "challenge resource does not match"}, Diagnosis.AZURE_ERROR),
    ],
)
def test_classify_names_the_cause_when_given_azures_evidence(
    evidence: dict[str, object], expected: Diagnosis
) -> None:
    args: dict[str, object] = {
        "aadsts": None,
        "status": None,
        "error_code": None,
        "inner_code": None,
        "message": "",
        "kind": "http",
    }
    args.update(evidence)
    assert classify(**args) is expected  # type: ignore[arg-type]


def test_classify_prefers_the_inner_code_when_outer_and_inner_disagree() -> None:
    got = classify(
        aadsts=None, status=403, error_code="Forbidden", inner_code="SecretDisabled", message="", kind="http"
    )
    assert got is Diagnosis.SECRET_DISABLED


def test_every_diagnosis_classify_returns_has_a_fix_when_looked_up() -> None:
    assert set(TABLE) == set(Diagnosis)
    assert all(entry.fix for entry in TABLE.values())

from __future__ import annotations

from pathlib import Path

import pytest

from baker.diagnose import Diagnosis
from baker.errors import ManifestError, ProviderError, ReferenceFailure, ResolutionFailed
from baker.manifest.checks import load


def _failure(env: str, message: str, diagnosis: Diagnosis) -> ReferenceFailure:
    return ReferenceFailure(env, ProviderError(message, diagnosis=diagnosis, credential="prod"))


def test_resolution_failed_groups_env_vars_that_failed_the_same_way_and_keeps_each_in_json() -> None:
    sign_in = "signing in with credential 'prod' failed: AADSTS7000215: Invalid client secret provided."
    error = ResolutionFailed(
        [
            _failure("A", sign_in, Diagnosis.INVALID_CLIENT_SECRET),
            _failure("B", sign_in, Diagnosis.INVALID_CLIENT_SECRET),
            _failure("C", "secret 'c' was not found", Diagnosis.SECRET_NOT_FOUND),
        ]
    )
    lines = error.message.splitlines()
    assert lines[0] == "3 references failed:"
    assert lines[1] == f"  A, B: [invalid-client-secret] {sign_in}"
    assert lines[2] == "  C: [secret-not-found] secret 'c' was not found"
    assert [f["env"] for f in error.to_json()["failures"]] == ["A", "B", "C"]  # type: ignore[union-attr]
    assert error.hint is not None and "New client secret" in error.hint


def test_manifest_json_names_the_no_credential_code(tmp_path: Path) -> None:
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage: {from: 'base:1'}\ncredentials:\n"
        "  a: {provider: azure-key-vault, vault_url: 'https://a.vault.azure.net',\n"
        "      tenant_id: t, client_id: c}\n"
        "env:\n  X: {secret: x}\n"
    )
    with pytest.raises(ManifestError) as caught:
        load(manifest, environ={"AZURE_CLIENT_SECRET": "s3cret-value"})
    document = caught.value.to_json()
    assert document["code"] == "no-credential"
    assert [p.get("code") for p in document["problems"]] == ["no-credential"]  # type: ignore[union-attr]

from __future__ import annotations

from baker.errors import Diagnosis, ProviderError, ReferenceFailure, ResolutionFailed


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

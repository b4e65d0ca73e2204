"""GitHub Actions' ID token, fetched and kept (a fake session and clock at the seam): kept while fresh,
fetched again as it nears `exp`, never through a redirect, and a refusal reported by its status only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import jwt
import pytest
import requests

from baker.providers.azure.keyless import FederatedTokenError, GitHubTokens, claims_of
from baker.secret import REDACTOR, Secret

REQUEST_TOKEN = "request-token-0123456789abcdef"


def id_token(iat: float, exp: float, sub: str = "repo:o/r:ref:refs/heads/main") -> str:
    return jwt.encode(
        {"iss": "https://issuer", "sub": sub, "aud": "api://AzureADTokenExchange", "iat": iat, "exp": exp},
        "k" * 32,
    )


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        """The body as the wire would carry it (an exception: a body that is not JSON)."""
        raw = (
            b"<html>not json</html>" if isinstance(self._body, Exception) else json.dumps(self._body).encode()
        )
        for start in range(0, len(raw), chunk_size):
            yield raw[start : start + chunk_size]

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *args: object) -> None:
        return None


class FakeSession:
    def __init__(self, answers: list[FakeResponse]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []
        self.auth: Any = None  # as a requests.Session's: `proxies.baker_session` sets it

    def get(self, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append({"url": url, **kwargs})
        return self.answers.pop(0)

    # What the GitHub fetch does to its (shallow) copy of the session: its own adapter, closed after.
    def mount(self, prefix: str, adapter: Any) -> None:
        pass

    def close(self) -> None:
        pass


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tokens(clock: Clock) -> GitHubTokens:
    return GitHubTokens(
        "https://gh.example/idtoken?api-version=2.0", Secret(REQUEST_TOKEN), "api://Aud", clock
    )


def test_a_fresh_token_is_kept_and_one_near_its_expiry_is_fetched_again() -> None:
    clock = Clock(1000.0)
    first, second = id_token(1000, 1300), id_token(1250, 1550)
    session = FakeSession(
        [FakeResponse(200, {"count": 1, "value": first}), FakeResponse(200, {"value": second})]
    )
    source = tokens(clock)
    assert source.get(cast(requests.Session, session)) == first
    clock.now = 1239.0  # 61 s left: still fresh
    assert source.get(cast(requests.Session, session)) == first
    clock.now = 1241.0  # under a minute left: fetched again
    assert source.get(cast(requests.Session, session)) == second
    assert len(session.calls) == 2


def test_a_short_lived_token_is_fetched_again_after_half_its_life() -> None:
    clock = Clock(1000.0)
    session = FakeSession(
        [
            FakeResponse(200, {"value": id_token(1000, 1002)}),
            FakeResponse(200, {"value": id_token(1001, 1003)}),
        ]
    )
    source = tokens(clock)
    source.get(cast(requests.Session, session))
    clock.now = 1001.0
    source.get(cast(requests.Session, session))
    assert len(session.calls) == 2


def test_the_request_asks_for_the_audience_with_the_bearer_token_and_no_redirects() -> None:
    session = FakeSession([FakeResponse(200, {"value": id_token(0, 10**10)})])
    tokens(Clock(0)).get(cast(requests.Session, session))
    (call,) = session.calls
    assert call["url"] == "https://gh.example/idtoken?api-version=2.0&audience=api%3A%2F%2FAud"
    assert call["headers"]["Authorization"] == f"bearer {REQUEST_TOKEN}"
    assert call["allow_redirects"] is False


def test_the_fetched_token_is_registered_with_the_redactor() -> None:
    token = id_token(0, 10**10)
    tokens(Clock(0)).get(cast(requests.Session, FakeSession([FakeResponse(200, {"value": token})])))
    assert token not in REDACTOR.redact(f"x {token} y")


@pytest.mark.parametrize(
    ("answer", "evidence"),
    [
        (FakeResponse(401, {"message": "secret-ish body"}), "401"),
        (FakeResponse(302, None), "302"),
        (FakeResponse(200, {"count": 0}), "no value"),
        (FakeResponse(200, ValueError("not json")), "no value"),
    ],
    ids=["refused", "redirect", "no-value", "not-json"],
)
def test_a_token_request_that_gives_nothing_is_a_federated_token_error(
    answer: FakeResponse, evidence: str
) -> None:
    with pytest.raises(FederatedTokenError) as info:
        tokens(Clock(0)).get(cast(requests.Session, FakeSession([answer])))
    assert info.value.evidence == evidence
    assert "secret-ish body" not in str(info.value.message)


def test_claims_are_read_without_verifying_and_garbage_gives_none() -> None:
    assert claims_of(id_token(1, 2, sub="repo:a/b:pull_request"))["sub"] == "repo:a/b:pull_request"
    assert claims_of("not-a-jwt") == {}

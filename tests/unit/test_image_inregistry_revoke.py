"""`bake_in_registry(revoke_superseded=True)`'s seams with the undo: the one read of each tag (a
refusal names the option only when it was asked for) and a stop during the revocation
(`revoke.revoke_after_bake`, both roads: the bake stands, the superseded digests not dealt with
are named)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from baker.commands._common import print_revocation
from baker.errors import ImageError
from baker.image import inregistry, inregistry_undo
from baker.image.registry import revoke
from baker.output import Output

OLD_A, OLD_B, NEW = ("sha256:" + c * 64 for c in "abc")
REFS = {
    "127.0.0.1:5000/team/app:a": inregistry.target("127.0.0.1:5000/team/app:a"),
    "127.0.0.1:5000/team/web:b": inregistry.target("127.0.0.1:5000/team/web:b"),
}


def _refusing(tags: Iterable[tuple[str, Any]], deadline: Callable[[], float]) -> inregistry_undo.Previous:
    raise ImageError("the registry 127.0.0.1:5000 answered HTTP 500 when asked to say what a names")


@pytest.mark.parametrize(
    ("revoke_superseded", "message"),
    [
        (True, '--revoke-superseded: cannot read what "127.0.0.1:5000/team/app:a" names now: the registry'),
        (False, "the registry 127.0.0.1:5000 answered HTTP 500"),
    ],
)
def test_a_tag_that_cannot_be_read_before_the_bake_names_revoke_superseded_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, revoke_superseded: bool, message: str
) -> None:
    monkeypatch.setattr(inregistry_undo, "read_tags", _refusing)
    with pytest.raises(ImageError) as caught:
        inregistry._read_tags(REFS, inregistry.Budget(60.0), revoke_superseded)
    assert caught.value.message.startswith(message)


def test_a_stop_during_the_revocation_keeps_the_bake_and_names_the_superseded_digests_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def stopped_midway(
        before: Any,
        pushed: Any,
        *,
        on_line: Any,
        result: revoke.Revocation | None = None,
        meanwhile: Any = None,
    ) -> revoke.Revocation:
        assert result is not None
        result.revoked.append({"repository": "127.0.0.1:5000/team/app", "digest": OLD_A})
        raise KeyboardInterrupt

    monkeypatch.setattr(revoke, "revoke_superseded", stopped_midway)
    before: dict[str, str | None] = dict(zip(REFS, (OLD_A, OLD_B), strict=True))
    revocation, stopped = revoke.revoke_after_bake(
        before, dict.fromkeys(REFS, NEW), on_line=lambda line: None
    )
    assert stopped
    assert revocation.revoked == [{"repository": "127.0.0.1:5000/team/app", "digest": OLD_A}]
    (warning,) = revocation.warnings
    assert warning.startswith("stopped during --revoke-superseded: the bake completed")
    assert f"127.0.0.1:5000/team/web@{OLD_B}" in warning
    assert OLD_A not in warning  # revoked already: not named as left
    # ... and the document names it too (`not_revoked`): the same on both roads (rt6-8)
    assert revocation.not_revoked == [
        {"repository": "127.0.0.1:5000/team/web", "digest": OLD_B, "why": revoke.STOPPED}
    ]


def test_a_revocation_that_is_not_stopped_is_returned_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def revoking(
        before: Any,
        pushed: Any,
        *,
        on_line: Any,
        result: revoke.Revocation | None = None,
        meanwhile: Any = None,
    ) -> revoke.Revocation:
        assert result is not None
        result.kept.append({"repository": "r", "digest": OLD_A, "why": "still tagged x"})
        return result

    monkeypatch.setattr(revoke, "revoke_superseded", revoking)
    revocation, stopped = revoke.revoke_after_bake({"t": OLD_A}, {"t": NEW}, on_line=lambda line: None)
    assert (stopped, revocation.warnings) == (False, [])
    assert revocation.kept == [{"repository": "r", "digest": OLD_A, "why": "still tagged x"}]


def test_an_unfinished_revocation_names_a_listed_tag_escaped_and_says_so() -> None:
    # A tag name comes from the registry's tag list: a line break in it must not forge lines.
    listed: dict[str, object] = {"v1\nall clear": ImageError("the registry r answered HTTP 500")}
    why = revoke._unread_tags(listed)
    assert why is not None
    revocation = revoke.Revocation()
    revoke._unfinished(revocation, "r/team/app", [OLD_A], why)
    assert not revocation.complete
    assert revocation.to_json()["not_revoked"] == [{"repository": "r/team/app", "digest": OLD_A, "why": why}]
    stdout, stderr = io.StringIO(), io.StringIO()
    print_revocation(Output(stdout=stdout, stderr=stderr), revocation)
    lines = stderr.getvalue().splitlines()
    assert "all clear" not in lines and len(lines) == 2
    assert lines[0].startswith(f"warning: could not revoke r/team/app@{OLD_A} (what 1 tag(s) name could not")
    assert "v1\\nall clear" in lines[0]
    assert lines[1].startswith("error: the bake completed, but --revoke-superseded could not finish")


def test_the_superseded_digests_are_per_repository_and_include_what_a_tag_named_just_before() -> None:
    # What a stop before (or during) the revocation names as not revoked, on either road.
    app, web = REFS
    before: dict[str, str | None] = {app: OLD_A, web: NEW, "127.0.0.1:5000/team/app:c": None}
    pushed = {app: NEW, web: NEW, "127.0.0.1:5000/team/app:c": NEW}
    assert revoke.superseded(before, pushed, {app: OLD_B, web: OLD_A}) == [
        ("127.0.0.1:5000/team/app", OLD_A),
        ("127.0.0.1:5000/team/app", OLD_B),
        ("127.0.0.1:5000/team/web", OLD_A),  # web named NEW before: not superseded, OLD_A moved meanwhile
    ]
    assert revoke.superseded({app: NEW}, {app: NEW}, {}) == []  # a re-bake to the same digest

"""The pipelines take the tags' checks a caller made before them (`build --if-stale` makes them
before its staleness check reads any secret, rt5-2), and make them again when they were made for
other tags or options (`CheckedTags.made_for`, `CheckedTargets.made_for`).  Fakes at the seams:
no engine, registry or vault is reached (a resolution that starts fails the test)."""

from __future__ import annotations

from typing import Any

import pytest

from baker import pipeline
from baker.image import engine, inregistry
from baker.image.bake import CheckedTags
from baker.image.inregistry import CheckedTargets
from baker.model import ImageSpec, Manifest

TAGS = ["registry.example.com/team/app:baked", "other.example.com/team/app:baked"]
MANIFEST = Manifest(
    path="baker.yaml",
    image=ImageSpec(base="registry.example.com/team/base:1", build=None),
    credentials={},
    env=(),
)


class Resolving(Exception):
    """The pipeline went on to resolve the values: the tags' checks are behind it."""


def _no_resolution(*_: Any) -> Any:
    raise Resolving


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The checks the pipelines make themselves (their tags), each a fake that asks no registry."""
    calls: list[tuple[str, ...]] = []

    def check_tags(
        manifest: Manifest, tags: list[str], *, push: bool, revoke_superseded: bool
    ) -> CheckedTags:
        calls.append(tuple(tags))
        return CheckedTags(tuple(tags), push, {} if revoke_superseded else None)

    def check_targets(
        manifest: Manifest, tags: list[str], *, revoke_superseded: bool, timeout: float
    ) -> CheckedTargets:
        calls.append(tuple(tags))
        return CheckedTargets(tuple(tags), revoke_superseded, {})

    monkeypatch.setattr(pipeline, "check_tags", check_tags)
    monkeypatch.setattr(inregistry, "check_targets", check_targets)
    monkeypatch.setattr(pipeline, "_resolve", _no_resolution)
    monkeypatch.setattr(engine, "connect", lambda: object())
    monkeypatch.setattr(inregistry, "read_base", lambda ref: object())
    return calls


@pytest.mark.parametrize(
    ("handed", "again"),
    [
        (None, True),  # not handed: made here
        (CheckedTags(tuple(TAGS), True, {}), False),  # made for this bake: taken
        (CheckedTags(tuple(TAGS[:1]), True, {}), True),  # other tags
        (CheckedTags(tuple(TAGS), False, None), True),  # made without the push or the revocation
        (CheckedTags(tuple(TAGS), True, None), True),  # made without the revocation
    ],
)
def test_the_engine_pipeline_takes_a_check_made_for_its_tags_and_options_and_makes_any_other_again(
    made: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch, handed: CheckedTags | None, again: bool
) -> None:
    monkeypatch.setattr(pipeline, "read_ahead", lambda *a, **k: _Ahead())
    with pytest.raises(Resolving):
        pipeline.build(MANIFEST, tags=TAGS, push=True, revoke_superseded=True, checked=handed)
    assert made == ([tuple(TAGS)] if again else [])


@pytest.mark.parametrize(
    ("handed", "again"),
    [
        (None, True),
        (CheckedTargets(tuple(TAGS), True, {}), False),
        (CheckedTargets(tuple(TAGS[1:]), True, {}), True),  # other tags
        (CheckedTargets(tuple(TAGS), False, {}), True),  # made without the revocation
    ],
)
def test_the_registry_pipeline_takes_a_check_made_for_its_tags_and_option_and_makes_any_other_again(
    made: list[tuple[str, ...]], handed: CheckedTargets | None, again: bool
) -> None:
    with pytest.raises(Resolving):
        pipeline.build_in_registry(MANIFEST, tags=TAGS, revoke_superseded=True, checked=handed)
    assert made == ([tuple(TAGS)] if again else [])


class _Ahead:
    def close(self, *, wait: float) -> None:
        return None

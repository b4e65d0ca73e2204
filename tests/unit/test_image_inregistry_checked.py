"""`inregistry.check_targets`, the registry road's check of its tags before resolution (rtf-4): the
names are checked by the engine road's rule (`imageref.validate_names`, shared with
`image.bake.check_tags`) before any registry is asked."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from baker.errors import RenderError, UsageError
from baker.image import inregistry, inregistry_undo
from baker.image.bake import check_tags
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest

MANIFEST = Manifest(
    path="baker.yaml",
    image=ImageSpec(base="127.0.0.1:5000/base/app:1", build=None),
    credentials={},
    env=(EnvEntry("A", LiteralValue("a")),),
)


def _no_registry(tags: Iterable[tuple[str, Any]], deadline: Callable[[], float]) -> inregistry_undo.Previous:
    raise AssertionError("a registry was asked")


@pytest.mark.parametrize(
    "tag",
    ["127.0.0.1:5000/Team/App:baked", "127.0.0.1:5000/team/app@sha256:" + "a" * 64, "app:bad tag"],
)
def test_a_bad_tag_is_refused_in_the_engine_road_s_words_before_any_registry_is_asked(
    monkeypatch: pytest.MonkeyPatch, tag: str
) -> None:
    monkeypatch.setattr(inregistry_undo, "read_tags", _no_registry)
    with pytest.raises(UsageError) as caught:  # exit 2, as the command says it
        inregistry.check_targets(MANIFEST, ["127.0.0.1:5000/team/app:ok", tag])
    with pytest.raises(RenderError) as engine_road:
        check_tags(MANIFEST, ["127.0.0.1:5000/team/app:ok", tag], push=False, revoke_superseded=False)
    assert caught.value.message == engine_road.value.message
    assert "is not a valid image name" in caught.value.message


def test_no_tag_is_refused_before_any_registry_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inregistry_undo, "read_tags", _no_registry)
    with pytest.raises(UsageError, match="--in-registry needs a tag to push to"):
        inregistry.check_targets(MANIFEST, [])

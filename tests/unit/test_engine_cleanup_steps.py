"""Which images a bake's clean-up may remove, decided from the engine's facts alone."""

from __future__ import annotations

from baker.image.engine.steps import Facts, is_bake_output, own_steps

BASE = "sha256:base"


def _chain(*ids: str, tagged: frozenset[str] = frozenset()) -> dict[str, Facts]:
    facts, parent = {}, BASE
    for image_id in ids:
        facts[image_id] = Facts(parent=parent, tagged=image_id in tagged)
        parent = image_id
    return facts


def _nothing_exists(image_id: str) -> bool:
    return False


def test_the_bakes_steps_on_its_base_are_its_own_parents_first() -> None:
    facts = _chain("label", "arg", "env", "final")
    assert own_steps(facts, BASE, _nothing_exists) == ["label", "arg", "env", "final"]


def test_an_image_built_on_a_baked_one_is_never_the_bakes() -> None:
    facts = _chain("label", "arg", "env", "final", "someone-elses-step")  # inherits the label
    assert "someone-elses-step" not in own_steps(facts, BASE, lambda image_id: True)


def test_a_tagged_image_is_never_removed() -> None:
    facts = _chain("label", "arg", "env", "final", tagged=frozenset({"final"}))
    assert own_steps(facts, BASE, _nothing_exists) == ["label", "arg", "env"]


def test_an_orphan_committed_after_its_parent_went_is_the_bakes() -> None:
    facts = {"final": Facts(parent="", tagged=False), "late": Facts(parent="sha256:gone", tagged=False)}
    assert sorted(own_steps(facts, BASE, _nothing_exists)) == ["final", "late"]


def test_a_labelled_image_whose_parent_still_exists_elsewhere_is_not_an_orphan() -> None:
    facts = {"child": Facts(parent="sha256:elsewhere", tagged=False)}
    assert own_steps(facts, BASE, lambda image_id: image_id == "sha256:elsewhere") == []


def test_a_bakes_output_is_recognised_by_its_last_step() -> None:
    label = "dev.baker.provenance"
    assert is_bake_output('/bin/sh -c #(nop)  LABEL dev.baker.provenance={"v":1}', label)
    assert not is_bake_output("/bin/sh -c #(nop)  LABEL made.by=user", label)

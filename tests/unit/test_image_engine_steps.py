"""Which images a re-bake's clean-up may remove as a superseded bake output, from the last history
step alone."""

from __future__ import annotations

from baker.image.engine.steps import is_bake_output
from baker.image.oci import history_entry

LABEL = "dev.baker.provenance"


def test_a_bakes_output_is_recognised_by_the_history_entry_the_bake_writes() -> None:
    entry = history_entry(["A", "B"], "2026-12-06T00:00:00Z", "comment")
    assert is_bake_output(str(entry["created_by"]), LABEL)


def test_an_output_of_the_classic_builder_bake_is_still_recognised_by_its_label_step() -> None:
    assert is_bake_output('/bin/sh -c #(nop)  LABEL dev.baker.provenance={"v":1}', LABEL)


def test_an_image_someone_built_on_a_baked_one_is_not_a_bakes_output() -> None:
    assert not is_bake_output("/bin/sh -c #(nop)  LABEL made.by=user", LABEL)
    assert not is_bake_output("/bin/sh -c echo baker: ENV A", LABEL)

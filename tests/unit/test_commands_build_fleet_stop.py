"""A fleet build a stop ended (rt6-2): the stopped bake's entry in the fleet's one `--json` document."""

from __future__ import annotations

import json

from baker.commands import build_fleet

STOP = {
    "error": "Interrupted",
    "message": "stopped: no tag moved",
    "left": ["sha256:" + "0" * 64],
    "not_restored": [],
}


def test_a_bake_the_stop_ended_carries_its_stop_document_as_its_error() -> None:
    assert build_fleet._stopped(json.dumps(STOP) + "\n") == {"error": STOP}


def test_a_bake_that_completed_before_the_stop_escaped_keeps_its_own_document() -> None:
    baked = {"image_id": "sha256:" + "1" * 64, "tags": ["app:1"], "pushed": [], "removed": [], "left": []}
    assert build_fleet._stopped(json.dumps(baked)) == baked


def test_a_bake_stopped_before_it_wrote_anything_is_named_stopped() -> None:
    for written in ("", '{"error": "Interr'):  # nothing yet, or cut short while written
        entry = build_fleet._stopped(written)
        assert entry == {
            "error": {"error": "Interrupted", "message": "stopped", "left": [], "not_restored": []}
        }

"""Which images a clean-up may remove as a bake's output: pure decisions over facts gathered from
the engine (the last history step), so they are tested without an engine.

A bake's output is one image whose last history entry is the bake's own (`baker: ENV NAMES (values
from Key Vault)`, written by `baker.image.oci.history_entry`) and which carries the provenance
label.  Images baked before the bake became a config edit (baker 0.1's classic-builder bake) end
with the engine's LABEL step for the provenance label instead, over up to `BAKE_STEPS` step images
of their own (LABEL bake-id, ARG, ENV, LABEL), each labelled with that bake's `dev.baker.bake-id`:
a re-bake that supersedes one removes those steps too (the ENV step holds the old values).
"""

from __future__ import annotations

BAKE_STEPS = 4  # the step images of a classic-builder bake (baker 0.1), for `remove_superseded`
BAKE_ID_LABEL = "dev.baker.bake-id"  # labelled every step image of a classic-builder bake
HISTORY_PREFIX = "baker: ENV "


def is_bake_output(last_step: str, provenance_label: str) -> bool:
    """A bake's output ends with the bake's own history entry (or, baked by baker 0.1, with the
    engine's LABEL step for the provenance record); an image someone built FROM it inherits the
    label but ends with their own step."""
    return last_step.startswith(HISTORY_PREFIX) or f"LABEL {provenance_label}=" in last_step

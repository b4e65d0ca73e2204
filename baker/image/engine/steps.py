"""Which images a bake's clean-up may remove: pure decisions over facts the builder gathers from the
engine (ids, parents, tags, the last history step), so they are tested without an engine.

A bake's own images are its Dockerfile's steps on top of its base — LABEL bake-id, ARG, ENV, and the
engine's LABEL step for the provenance label — all carrying the bake's fresh `dev.baker.bake-id`.
Nothing deeper is ever one of them, and a tagged image never is (someone built and named it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

BAKE_STEPS = 4


@dataclass(frozen=True)
class Facts:
    """What the engine says of one labelled image."""

    parent: str  # "" when the engine has none (pulled, or committed after its parent was removed)
    tagged: bool


def own_steps(facts: Mapping[str, Facts], base: str, exists: Callable[[str], bool]) -> list[str]:
    """The untagged images among `facts` (all labelled with one bake's id) that are that bake's own
    steps, parents first: those within `BAKE_STEPS` of `base` along labelled parents, and orphans (a
    step the engine committed after its parent was already removed).  An orphan with a bake's fresh
    id can only be that bake's: the engine never removes an image that has children, so anyone
    else's image built on ours would still have its parent."""
    own: list[str] = []
    frontier = {base}
    for _ in range(BAKE_STEPS):
        frontier = {i for i, f in facts.items() if f.parent in frontier and i not in own}
        if not frontier:
            break
        own.extend(sorted(frontier))
    for image_id, fact in sorted(facts.items()):
        if image_id in own or fact.parent == base or fact.parent in facts:
            continue
        if not fact.parent or not exists(fact.parent):
            own.append(image_id)
    return [i for i in own if not facts[i].tagged]


def is_bake_output(last_step: str, provenance_label: str) -> bool:
    """A bake's output ends with the engine's LABEL step for the provenance record; an image someone
    built FROM it inherits the label but ends with their own step."""
    return f"LABEL {provenance_label}=" in last_step

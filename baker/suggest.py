"""The one "did you mean": a name that is not among the known ones, and what to say about it."""

from __future__ import annotations

from collections.abc import Iterable


def closest(name: str, known: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The known name closest to `name`, None when none is close."""
    import difflib  # guards every run's start (issue 17): only a name not found asks for the closest

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, known: Iterable[str], *, otherwise: str, cutoff: float = 0.6) -> str:
    """`did you mean 'x'?` for the closest known name, else `otherwise` followed by every known name
    (or "none")."""
    choices = list(known)
    close = closest(name, choices, cutoff=cutoff)
    if close is not None:
        return f"did you mean {close!r}?"
    return f"{otherwise}{', '.join(choices) or 'none'}"

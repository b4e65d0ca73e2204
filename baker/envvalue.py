"""The one rule for what a baked variable's value may hold, on every road (`render`, the engine bake,
`build --in-registry`): a value no process environment can carry is refused, naming the variable and
never the value.

- No NUL: `execve` ends each `NAME=value` string at the first NUL, and runc refuses such an
  environment with an error that quotes the whole value (into a deploy's logs); the image could not
  start.
- Valid Unicode: a lone surrogate (JSON's `\\ud800`, which Key Vault can hold) has no UTF-8 form; an
  encoder would write U+FFFD or refuse, so the value baked would not be the value stored.

A leaf: imports nothing of baker's, so the manifest-free render and the pure bake (`image/oci`) share it.
"""

from __future__ import annotations

HINT = "store the value base64-encoded and decode it in the application"


def problem(name: str, value: str) -> str | None:
    """Why `value` cannot be baked into the variable `name` (a message naming the variable, never
    the value), or None when it can."""
    if "\x00" in value:
        return f"{name}: the value holds a NUL character, which no process environment can carry"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name}: the value is not valid Unicode text (it holds a lone surrogate)"
    return None


__all__ = ["HINT", "problem"]

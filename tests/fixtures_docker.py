"""Docker fixtures (owned by the builder work; see baker/builder.py)."""

from __future__ import annotations

"""Emulator fixtures (owned by the emulator work; see baker/emulator)."""

from __future__ import annotations

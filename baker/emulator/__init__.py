"""The local Entra + Key Vault emulator (`baker emulator`, and the test suite's fixtures).

One TLS port serves Entra at login.localhost, each vault at NAME.vault.localhost and the admin API
at localhost/_admin, dispatching on the Host header.  See `world` for the world file's format.
"""

from __future__ import annotations

from baker.emulator.app import Emulator
from baker.emulator.faults import Faults, RecordedRequest
from baker.emulator.world import World, load_world, parse_world

__all__ = ["Emulator", "Faults", "RecordedRequest", "World", "load_world", "parse_world"]

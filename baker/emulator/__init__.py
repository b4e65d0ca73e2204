"""The local Entra + Key Vault emulator (`baker emulator`, and the test suite's fixtures).

One TLS port serves Entra at login.localhost, each vault at NAME.vault.localhost and the admin API
at localhost/_admin, dispatching on the Host header; for keyless sign-in also an OIDC issuer at
oidc.localhost, GitHub Actions' and Azure Pipelines' token endpoints at github.localhost and
devops.localhost, and a managed identity endpoint at identity.localhost.  See `world` for the world
file's format.
"""

from __future__ import annotations

from baker.emulator.app import Emulator
from baker.emulator.faults import Faults, RecordedRequest
from baker.emulator.world import World
from baker.emulator.worldfile import load_world, parse_world

__all__ = ["Emulator", "Faults", "RecordedRequest", "World", "load_world", "parse_world"]

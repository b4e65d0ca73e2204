"""The running emulator's secrets: seeded from the world, changed by the admin API.

Versions are immutable snapshots; a change replaces one under the lock, so readers never see a
half-made version and never hold the lock while answering.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Mapping

from baker.emulator import certs
from baker.emulator.world import SecretVersion, World
from baker.record import Record, field, replace


class StoredVersion(Record):
    version: str
    value: str = field(repr=False)
    enabled: bool
    exp: dt.datetime | None
    nbf: dt.datetime | None
    content_type: str | None
    tags: Mapping[str, str] | None
    created: dt.datetime
    updated: dt.datetime


class _Secret(Record, frozen=False):
    name: str  # as first written; lookups are case-insensitive
    versions: list[StoredVersion]


class UnknownVault(KeyError):
    pass


class UnknownSecret(KeyError):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _stored(spec: SecretVersion, created: dt.datetime) -> StoredVersion:
    value = spec.value
    if spec.certificate is not None:  # made now, as Key Vault stores a certificate's secret
        cert = spec.certificate
        value = certs.make(cert.subject, key=cert.key, form=cert.format, chain=cert.chain).value
    return StoredVersion(
        version=spec.version or uuid.uuid4().hex,
        value=value,
        enabled=spec.enabled,
        exp=spec.exp,
        nbf=spec.nbf,
        content_type=spec.content_type,
        tags=dict(spec.tags) if spec.tags is not None else None,
        created=spec.created or created,
        updated=spec.created or created,
    )


class Store:
    def __init__(self, world: World) -> None:
        self._lock = threading.Lock()
        self._vaults: dict[str, dict[str, _Secret]] = {}
        now = _now()
        for vault in world.vaults.values():
            secrets = self._vaults.setdefault(vault.name, {})
            for name, specs in vault.secrets.items():
                # Seeded versions without a date get one a minute apart, oldest first.
                count = len(specs)
                versions = [_stored(s, now - dt.timedelta(minutes=count - i)) for i, s in enumerate(specs)]
                secrets[name.lower()] = _Secret(name, versions)

    def _secret(self, vault: str, name: str) -> _Secret:
        try:
            secrets = self._vaults[vault.lower()]
        except KeyError:
            raise UnknownVault(vault) from None
        try:
            return secrets[name.lower()]
        except KeyError:
            raise UnknownSecret(name) from None

    def get(self, vault: str, name: str, version: str | None = None) -> tuple[str, StoredVersion]:
        """(name as stored, the version) — the current one when `version` is None."""
        with self._lock:
            secret = self._secret(vault, name)
            if version is None:
                return secret.name, secret.versions[-1]
            for v in secret.versions:
                if v.version == version.lower():
                    return secret.name, v
        raise UnknownSecret(f"{name}/{version}")

    def list_current(self, vault: str) -> list[tuple[str, StoredVersion]]:
        """Every secret with its current version, by name."""
        with self._lock:
            if vault.lower() not in self._vaults:
                raise UnknownVault(vault)
            items = [(s.name, s.versions[-1]) for s in self._vaults[vault.lower()].values()]
        return sorted(items, key=lambda item: item[0].lower())

    def versions(self, vault: str, name: str) -> tuple[str, list[StoredVersion]]:
        with self._lock:
            secret = self._secret(vault, name)
            return secret.name, list(secret.versions)

    def add_version(self, vault: str, name: str, spec: SecretVersion) -> str:
        """Rotation: a new current version (the secret is created when new)."""
        with self._lock:
            if vault.lower() not in self._vaults:
                raise UnknownVault(vault)
            secrets = self._vaults[vault.lower()]
            secret = secrets.setdefault(name.lower(), _Secret(name, []))
            if spec.version and any(v.version == spec.version for v in secret.versions):
                raise ValueError(f"version {spec.version} already exists")
            stored = _stored(spec, _now())
            secret.versions.append(stored)
            return stored.version

    def set_enabled(self, vault: str, name: str, enabled: bool, version: str | None = None) -> None:
        with self._lock:
            secret = self._secret(vault, name)
            index = len(secret.versions) - 1
            if version is not None:
                matches = [i for i, v in enumerate(secret.versions) if v.version == version.lower()]
                if not matches:
                    raise UnknownSecret(f"{name}/{version}")
                index = matches[0]
            secret.versions[index] = replace(secret.versions[index], enabled=enabled, updated=_now())

    def delete(self, vault: str, name: str) -> None:
        with self._lock:
            self._secret(vault, name)
            del self._vaults[vault.lower()][name.lower()]

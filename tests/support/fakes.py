"""The one fake of the Provider protocol (`baker.providers.base.Provider`) the unit tests share.

Configure what a test needs and read back what it counts:
- `values`: name -> (value, current version), what `get_secret` returns for that name;
- `versions`: name -> every version's properties, oldest first, what the metadata reads
  (`get_properties`, `get_attributes`, `list_secrets`) answer from; a value read of a name without a
  `values` entry returns `value` with these properties;
- `errors`: name -> what every read of that name raises (`fail` builds a ProviderError; any other
  exception stands for a bug in a provider);
  `sign_in_error`, `list_error`: what `sign_in` and `list_secrets` raise;
- `delay`: seconds each value read takes, so concurrency can be watched.
Counted: `calls` (each value read's name and version), `metadata_calls`, `peak` (most value reads in
flight at once), `sign_ins`, `closed`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from baker.diagnose import Diagnosis
from baker.errors import ProviderError
from baker.model import CredentialSpec
from baker.providers.base import FetchedSecret, SecretProperties
from baker.secret import Secret


@dataclass
class FakeProvider:
    credential: CredentialSpec
    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    versions: dict[str, list[SecretProperties]] = field(default_factory=dict)  # oldest first
    value: str = "fake-secret-value"
    errors: dict[str, Exception] = field(default_factory=dict)
    sign_in_error: ProviderError | None = None
    list_error: ProviderError | None = None
    delay: float = 0.0
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    metadata_calls: list[tuple[str, str | None]] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    sign_ins: int = 0
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def value_reads(self) -> int:
        return len(self.calls)

    def fail(self, name: str, diagnosis: Diagnosis, evidence: str = "") -> None:
        """Every read of `name` raises a ProviderError with this diagnosis."""
        self.errors[name] = ProviderError(
            f"secret {name!r} failed",
            diagnosis=diagnosis,
            credential=self.credential.name,
            secret=name,
            evidence=evidence,
        )

    def get_secret(self, name: str, version: str | None = None) -> FetchedSecret:
        with self.lock:
            self.calls.append((name, version))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay)
            if name in self.errors:
                raise self.errors[name]
            if name in self.values:
                value, current = self.values[name]
                return FetchedSecret(Secret(value), SecretProperties(name=name, version=version or current))
            return FetchedSecret(Secret(self.value), self._properties(name, version))
        finally:
            with self.lock:
                self.in_flight -= 1

    def get_properties(self, name: str, version: str | None = None) -> SecretProperties:
        with self.lock:
            self.metadata_calls.append((name, version))
        if name in self.errors:
            raise self.errors[name]
        return self._properties(name, version)

    def get_attributes(self, name: str, version: str | None = None) -> SecretProperties:
        return self.get_properties(name, version)

    def list_secrets(self) -> Iterator[SecretProperties]:
        if self.list_error is not None:
            raise self.list_error
        for versions in self.versions.values():
            yield versions[-1]

    def sign_in(self) -> None:
        self.sign_ins += 1
        if self.sign_in_error is not None:
            raise self.sign_in_error

    def close(self) -> None:
        self.closed = True

    def _properties(self, name: str, version: str | None) -> SecretProperties:
        for props in reversed(self.versions.get(name, [])):
            if version is None or props.version == version:
                return props
        not_found = Diagnosis.SECRET_NOT_FOUND
        raise ProviderError(f"failed: {not_found.value}", diagnosis=not_found, evidence="404 SecretNotFound")

"""The Provider protocol: what baker needs from a secret store.  A second store is a new module
registered in `baker.providers.REGISTRY`, not a new `if`.

Providers raise only `baker.errors.ProviderError` (with a diagnosis); the store's own exceptions
never leave the provider module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

from baker.model import CredentialSpec
from baker.record import Record, field
from baker.secret import Secret


class SecretProperties(Record):
    """Metadata of one secret version: never its value."""

    name: str
    version: str | None
    enabled: bool = True
    created_on: datetime | None = None
    updated_on: datetime | None = None
    expires_on: datetime | None = None
    not_before: datetime | None = None
    content_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


class FetchedSecret(Record):
    value: Secret
    properties: SecretProperties


class Provider(Protocol):
    """One signed-in connection to one store (one credential).  Must be safe to call from threads."""

    credential: CredentialSpec

    def get_secret(self, name: str, version: str | None = None) -> FetchedSecret:
        """The value and properties of `name` (its current version when `version` is None)."""
        ...

    def get_properties(self, name: str, version: str | None = None) -> SecretProperties:
        """Metadata of the current (or given) version, reading the value only where the store
        has no other way to tell which version is current."""
        ...

    def get_attributes(self, name: str, version: str | None = None) -> SecretProperties:
        """Metadata of the current (or given) version in one request whatever the secret's
        history (`check`).  Where the store answers with the value too, it is dropped unread; a
        disabled version is described as `enabled=False`."""
        ...

    def list_secrets(self) -> Iterator[SecretProperties]:
        """Every secret's current properties, all pages."""
        ...

    def sign_in(self) -> None:
        """Obtain a token, proving the credential itself is good (no vault access implied)."""
        ...

    def close(self) -> None: ...


OpenProvider = Callable[[CredentialSpec], Provider]
"""How commands get a connected provider; `baker.providers.open_provider` by default, a fake in tests."""


class ProviderFactory(Protocol):
    def __call__(self, credential: CredentialSpec, *, max_workers: int) -> Provider: ...

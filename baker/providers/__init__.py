"""Secret stores.  `REGISTRY` maps a credential's `provider:` to the class that talks to it,
imported only when a command really connects (validate and plan never import a store's SDK)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: the manifest checks read REGISTRY and load no provider types
    from baker.model import CredentialSpec
    from baker.providers.base import Provider, ProviderFactory

REGISTRY: dict[str, str] = {
    "azure-key-vault": "baker.providers.azure:AzureKeyVaultProvider",
}


# Threads (and pooled connections) per provider when a caller does not say: the resolver's and
# `check`'s fan-outs.  `secrets list` and `test-connection` pass fewer (they make few calls).
DEFAULT_WORKERS = 16


def open_provider(credential: CredentialSpec, *, workers: int = DEFAULT_WORKERS) -> Provider:
    """A connected provider for `credential` (signs in lazily, on first use): the one opener.  The
    store's module (and so its SDK) is imported here, on first use."""
    module_name, _, attr = REGISTRY[credential.provider].partition(":")
    factory: ProviderFactory = getattr(importlib.import_module(module_name), attr)
    provider: Provider = factory(credential, max_workers=workers)
    return provider

"""Secret stores.  `REGISTRY` maps a credential's `provider:` to the class that talks to it,
imported only when a command really connects (validate and plan never import a store's SDK)."""

from __future__ import annotations

import importlib

from baker.model import CredentialSpec
from baker.providers.base import Provider, ProviderFactory

REGISTRY: dict[str, str] = {
    "azure-key-vault": "baker.providers.azure:AzureKeyVaultProvider",
}


def open_provider(credential: CredentialSpec, *, max_workers: int = 16) -> Provider:
    """A connected provider for `credential` (signs in lazily, on first use)."""
    module_name, _, attr = REGISTRY[credential.provider].partition(":")
    factory: ProviderFactory = getattr(importlib.import_module(module_name), attr)
    provider: Provider = factory(credential, max_workers=max_workers)
    return provider

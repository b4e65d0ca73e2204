"""Azure Key Vault.  This package is the only place in baker that imports `azure.*`: `provider`
holds the credential, the client and the calls; `evidence` reads Azure's exceptions.  Everything
leaves it as baker's own types (`FetchedSecret`, `SecretProperties`, `ProviderError`)."""

from __future__ import annotations

from baker.providers.azure.provider import (
    AzureKeyVaultProvider,
    needs_instance_discovery_disabled,
    scope_for,
)

__all__ = ["AzureKeyVaultProvider", "needs_instance_discovery_disabled", "scope_for"]

"""Azure Key Vault.  This package is the only place in baker that imports `azure.*`: `provider`
holds the credential, the client and the calls; `keyless` builds the keyless credentials (`auth:`
other than client-secret) and `keyless_errors` reads their failures; `evidence` reads Azure's
exceptions and `classify` turns that evidence into a diagnosis.  Everything
leaves it as baker's own types (`FetchedSecret`, `SecretProperties`, `ProviderError`)."""

from __future__ import annotations

from baker.providers.azure.provider import (
    AzureKeyVaultProvider,
    needs_instance_discovery_disabled,
    scope_for,
)

__all__ = ["AzureKeyVaultProvider", "needs_instance_discovery_disabled", "scope_for"]

"""One sign-in per identity for a whole run over many manifests (`check -f A -f B`).

Manifests name their credentials as they like (`azure-prod` here, `prod` there); what signs in is the
identity behind the name: `credential_identity()`.  Every credential of one identity shares one
provider's sign-in (token cache and connection pool); each vault gets its own provider over it
(`AzureKeyVaultProvider.for_vault`).  Two credentials of one identity whose client secrets differ
sign in apart: the check of each must not borrow the other's secret.  Imports no SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from baker import providers
from baker.errors import ProviderError
from baker.model import CredentialSpec
from baker.providers.base import OpenProvider, Provider
from baker.record import Record, field

DEFAULT_AUTHORITY = "login.microsoftonline.com"


def _authority(host: str | None) -> str:
    effective = host or DEFAULT_AUTHORITY  # AZURE_AUTHORITY_HOST is in `host` when it applies
    return effective.lower().removeprefix("https://").rstrip("/")


def credential_identity(spec: CredentialSpec) -> tuple[str, ...]:
    """Who a credential signs in as: (provider, tenant, client, authority, auth kind, and for a
    federated token where it comes from and for which audience).  Never a token or a secret."""
    auth = spec.auth
    source = auth.source
    return (
        spec.provider,
        (spec.tenant_id or "").lower(),
        (spec.client_id or "").lower(),
        _authority(spec.authority_host),
        auth.kind,
        auth.audience if auth.is_keyless else "",
        auth.service_connection_id or "",
        f"{source.kind}:{source.path or source.request_url or source.where}" if source is not None else "",
    )


def vault_of(spec: CredentialSpec) -> str:
    return spec.vault_url.rstrip("/").lower()


class _SignIn(Record, frozen=False):
    spec: CredentialSpec
    first: Provider | ProviderError | None = None
    signed_in: ProviderError | bool | None = False  # False: not yet; None: done; else its failure
    lock: threading.Lock = field(default_factory=threading.Lock)


class SignIns:
    """Providers for a run, one per (sign-in, vault); `close()` when done.  Thread-safe.

    `open_provider` (a test seam) opens a provider per (sign-in, vault) itself; by default the
    first of each sign-in is opened with `baker.providers.open_provider` and the others share it.
    """

    def __init__(
        self, *, open_provider: OpenProvider | None = None, max_workers: int = providers.DEFAULT_WORKERS
    ) -> None:
        self._open = open_provider
        self._max_workers = max_workers
        self._groups: list[_SignIn] = []
        self._providers: dict[tuple[int, str], Provider | ProviderError] = {}
        self._lock = threading.Lock()

    def group(self, spec: CredentialSpec) -> int:
        """The sign-in `spec` uses (an index): same identity and same client secret."""
        with self._lock:
            for index, known in enumerate(self._groups):
                other = known.spec
                if credential_identity(other) == credential_identity(spec) and (
                    other.client_secret == spec.client_secret
                ):
                    return index
            self._groups.append(_SignIn(spec))
            return len(self._groups) - 1

    def key(self, spec: CredentialSpec) -> Hashable:
        """What one read of a secret through `spec` is shared by: its sign-in and its vault."""
        return (self.group(spec), vault_of(spec))

    def provider(self, spec: CredentialSpec) -> Provider | ProviderError:
        """The provider for `spec`'s vault, signed in (once per sign-in); or why it cannot be."""
        index = self.group(spec)
        group = self._groups[index]
        with group.lock:
            if group.signed_in is False:
                group.signed_in = self._sign_in(group)
            failure = group.signed_in
        if isinstance(failure, ProviderError):
            return failure
        with self._lock:
            key = (index, vault_of(spec))
            if key not in self._providers:
                self._providers[key] = self._derived(group, spec)
            return self._providers[key]

    def _opened(self, spec: CredentialSpec) -> Provider | ProviderError:
        try:
            if self._open is not None:
                return self._open(spec)
            return providers.open_provider(spec, workers=self._max_workers)
        except ProviderError as exc:
            return exc

    def _sign_in(self, group: _SignIn) -> ProviderError | None:
        group.first = self._opened(group.spec)
        if isinstance(group.first, ProviderError):
            return group.first
        with self._lock:
            self._providers[(self._groups.index(group), vault_of(group.spec))] = group.first
        try:
            group.first.sign_in()
        except ProviderError as exc:
            return exc
        return None

    def _derived(self, group: _SignIn, spec: CredentialSpec) -> Provider | ProviderError:
        first = group.first
        share = getattr(first, "for_vault", None)
        if self._open is None and callable(share):
            try:
                provider: Provider = share(spec)
            except ProviderError as exc:
                return exc
            return provider
        return self._opened(spec)

    @property
    def sign_ins(self) -> int:
        return sum(1 for g in self._groups if g.signed_in is not False)

    def close(self) -> None:
        """The shared ones last: the others borrow their sign-in."""
        firsts = {id(g.first) for g in self._groups}
        opened = [p for p in self._providers.values() if not isinstance(p, ProviderError)]
        for provider in sorted(opened, key=lambda p: id(p) in firsts):
            provider.close()

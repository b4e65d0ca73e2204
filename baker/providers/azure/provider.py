"""Azure Key Vault, through the unmodified Azure SDK: the provider (credential, client, calls).

One `ClientSecretCredential` and one `SecretClient` per credential, reused for every call, so the
token is fetched once and the TLS connections are kept.  Both share one `requests.Session` whose
connection pool is sized to the worker count: requests' default pool keeps 10 connections per
host, and under more concurrency than that it drops and re-handshakes connections on every call.

Retries: azure-core's default (3 status retries) gives up on a throttled vault.  baker retries
up to 8 times, exponential backoff 0.5 s doubling to at most 8 s, and honours Retry-After but
caps it (a server asking for an hour would stall a CI job for an hour).  Worst case for one call
that is throttled throughout: 8 x 6 s = 48 s with Retry-After, 0+1+2+4+8+8+8+8 = 39 s without.

Every azure.core / azure.identity exception is translated here into `ProviderError` with a
diagnosis (`classify.classify`); no message holds a value or a client secret.  The SDK's
network trace (`logging_enable`) logs response bodies, i.e. values: it is never enabled.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlparse

import requests
from azure.core.exceptions import (
    AzureError,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from baker.diagnose import Diagnosis
from baker.errors import ProviderError
from baker.model import CLIENT_SECRET, CredentialSpec
from baker.providers.azure.classify import FailureKind, classify
from baker.providers.azure.evidence import evidence_of
from baker.providers.azure.keyless import PresentedToken, keyless_identity
from baker.providers.azure.keyless_errors import keyless_failure, keyless_incomplete
from baker.providers.base import FetchedSecret, SecretProperties
from baker.proxies import baker_session
from baker.secret import MASK, REDACTOR, Secret, scrub

try:  # MSAL's own list, so baker agrees with it on which hosts need instance discovery.
    from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS as _MSAL_KNOWN
except ImportError:  # pragma: no cover - msal moved it
    _MSAL_KNOWN = frozenset()

_LOG = logging.getLogger(__name__)
T = TypeVar("T")

PUBLIC_AUTHORITY = "login.microsoftonline.com"
WELL_KNOWN_AUTHORITY_HOSTS = frozenset(_MSAL_KNOWN) | {
    PUBLIC_AUTHORITY,
    "login.microsoft.com",
    "login.windows.net",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
}
# Vault hosts are `<name>.vault.<cloud suffix>`; the challenge's resource is `https://vault.<suffix>`.
_VAULT_HOST_RE = re.compile(r"^[^.]+\.(vault\..+)$", re.IGNORECASE)


class _BoundedRetryPolicy(RetryPolicy[Any, Any]):
    """azure-core's retry, with Retry-After honoured up to a cap."""

    def __init__(self, *, retry_after_max: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._retry_after_max = retry_after_max

    def get_retry_after(self, response: PipelineResponse[Any, Any]) -> float | None:
        value: float | None = super().get_retry_after(response)
        return None if value is None else min(value, self._retry_after_max)


def needs_instance_discovery_disabled(authority_host: str | None) -> bool:
    """True when MSAL would ask login.microsoftonline.com to vouch for an authority it does not
    know (Azure Stack, ADFS, the local emulator): that check must be off for them to work."""
    effective = authority_host or PUBLIC_AUTHORITY
    host = urlparse(effective if "://" in effective else f"https://{effective}").hostname or ""
    return host.lower() not in WELL_KNOWN_AUTHORITY_HOSTS


def scope_for(vault_url: str) -> str | None:
    """The token scope Key Vault's challenge will ask for, when the vault's host tells it.

    `https://x.vault.azure.net` -> `https://vault.azure.net/.default` (likewise every sovereign
    cloud and the emulator's `x.vault.localhost:PORT`).  None for other hosts (an IP address, a
    custom name): there only the vault's own challenge can say.
    """
    netloc = urlparse(vault_url).netloc
    match = _VAULT_HOST_RE.match(netloc)
    return f"https://{match.group(1).lower()}/.default" if match else None


def _pooled_session(max_workers: int) -> requests.Session:
    session = requests.Session()
    # As azure-core sets up its own sessions: urllib3's retries off (azure-core's policy is the one
    # retry), but with a pool as large as the worker count.
    no_retries = Retry(total=False, redirect=False, raise_on_status=False)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(max_workers, 1), max_retries=no_retries)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return baker_session(session)


class AzureKeyVaultProvider:
    """One credential's connection to its vault.  Thread-safe; see the module docstring.

    The retry_* parameters exist for tests (a small budget makes "throttled beyond the retries"
    fast); users get the defaults.
    """

    def __init__(
        self,
        credential: CredentialSpec,
        *,
        max_workers: int = 16,
        retry_total: int = 8,
        retry_backoff_factor: float = 0.5,
        retry_backoff_max: float = 8.0,
        retry_after_max: float = 6.0,
        signed_in_as: AzureKeyVaultProvider | None = None,
    ) -> None:
        """`signed_in_as`: another provider of the same identity (`baker.providers.signin`) whose sign-in,
        token cache and connection pool this one shares (another vault, no second token request);
        that one closes them."""
        self.credential = credential
        self._owner = signed_in_as is None
        self._vault_url = credential.vault_url.rstrip("/")
        self._client_secret = credential.client_secret.reveal() if credential.client_secret else ""
        if self._client_secret:
            REDACTOR.register(self._client_secret, label=f"client secret of credential {credential.name}")
        self._max_workers = max_workers
        self._retry_options: dict[str, Any] = {
            "retry_total": retry_total,
            "retry_backoff_factor": retry_backoff_factor,
            "retry_backoff_max": retry_backoff_max,
            "retry_after_max": retry_after_max,
        }
        self._first_call = threading.Lock()
        self._warm = threading.Event()
        self._fatal: ProviderError | None = None
        self._presented = PresentedToken()
        keyless_refusal = keyless_incomplete(credential)
        if keyless_refusal is not None:
            raise keyless_refusal
        if credential.auth.kind == CLIENT_SECRET and not (
            credential.tenant_id and credential.client_id and self._client_secret
        ):
            missing = ", ".join(credential.unset_vars) or "tenant_id, client_id or client_secret"
            raise ProviderError(
                f"credential {credential.name!r} is incomplete: {missing} not set",
                diagnosis=Diagnosis.AZURE_ERROR,
                credential=credential.name,
                hint="Set the variables the credential names (or AZURE_TENANT_ID, AZURE_CLIENT_ID, "
                "AZURE_CLIENT_SECRET).",
            )
        self._session: requests.Session = (
            _pooled_session(max_workers) if signed_in_as is None else signed_in_as._session
        )
        transport = RequestsTransport(
            session=self._session, session_owner=False, connection_timeout=10, read_timeout=60
        )
        identity_kwargs: dict[str, Any] = {
            "transport": transport,
            "disable_instance_discovery": needs_instance_discovery_disabled(credential.authority_host),
        }
        # Always named: with none, azure-identity takes os.environ's AZURE_AUTHORITY_HOST itself,
        # which the manifest's checks did not read when it was loaded with an `environ` of its own.
        identity_kwargs["authority"] = credential.authority_host or PUBLIC_AUTHORITY
        try:
            self._identity: Any
            if signed_in_as is not None:  # the same identity: its sign-in, its token cache
                self._identity = signed_in_as._identity
                self._presented = signed_in_as._presented
            elif credential.auth.kind == CLIENT_SECRET:
                assert credential.tenant_id and credential.client_id
                self._identity = ClientSecretCredential(
                    credential.tenant_id, credential.client_id, self._client_secret, **identity_kwargs
                )
            else:
                self._identity = keyless_identity(
                    credential,
                    session=self._session,
                    identity_kwargs=identity_kwargs,
                    presented=self._presented,
                )
            self._client = SecretClient(
                self._vault_url,
                self._identity,
                transport=transport,
                retry_policy=_BoundedRetryPolicy(
                    retry_after_max=retry_after_max,
                    retry_total=retry_total,
                    retry_status=retry_total,
                    retry_connect=min(3, retry_total),
                    retry_read=min(3, retry_total),
                    retry_backoff_factor=retry_backoff_factor,
                    retry_backoff_max=retry_backoff_max,
                ),
            )
        except ValueError as exc:  # a non-https authority, a malformed tenant id, ...
            if self._owner:
                self._session.close()
            raise ProviderError(
                f"credential {credential.name!r}: {self._scrub(str(exc))}",
                diagnosis=Diagnosis.AZURE_ERROR,
                evidence=type(exc).__name__,
                credential=credential.name,
            ) from None

    # --- the Provider protocol ------------------------------------------------------------------

    def get_secret(self, name: str, version: str | None = None) -> FetchedSecret:
        bundle = self._call(name, lambda: self._client.get_secret(name, version))
        value = Secret(bundle.value if bundle.value is not None else "")
        REDACTOR.register(value, label=f"secret {name}")
        return FetchedSecret(value=value, properties=_properties(bundle.properties, name))

    def get_properties(self, name: str, version: str | None = None) -> SecretProperties:
        """Listed, never read: the versions list carries no values (`test-connection`, which
        promises not to read one; its cost grows with the history, `get_attributes` does not).

        Key Vault's current version is the one created last, enabled or not (a disabled newest
        version makes the secret unreadable, it does not fall back to an older one), so that is
        the one picked.  Creation times have one-second resolution: when two versions tie for
        newest, only a GET can tell, and that reads the value.
        """
        listed = self._call(
            name,
            lambda: [_properties(p, name) for p in self._client.list_properties_of_secret_versions(name)],
        )
        if version is not None:
            for props in listed:
                if props.version and props.version.lower() == version.lower():
                    return props
            raise self._not_found(name, version)
        if not listed:
            raise self._not_found(name, None)
        dated = [(p.created_on, p) for p in listed if p.created_on is not None]
        if len(dated) == len(listed):
            newest = max(created for created, _ in dated)
            tied = [p for created, p in dated if created == newest]
            if len(tied) == 1:
                return tied[0]
        return self.get_secret(name).properties

    def get_attributes(self, name: str, version: str | None = None) -> SecretProperties:
        """One GET, whatever the secret's history: `GET /secrets/NAME` is Key Vault's own answer to
        "which version is current" (listing versions costs a page per 25 of them, sorted by id, not
        by age, and dated to the second), `GET /secrets/NAME/VERSION` describes one version.

        Both answers carry the value: it is dropped here, at once.  It is never wrapped in a
        `Secret`, registered, returned or kept; only the attributes leave this method.  A disabled
        version answers 403 SecretDisabled (Key Vault says no more): described as disabled.
        """
        try:
            properties = self._call(
                name, lambda: _dropping_value(self._client.get_secret(name, version), name)
            )
        except ProviderError as exc:
            if exc.diagnosis is not Diagnosis.SECRET_DISABLED:
                raise
            return SecretProperties(name=name, version=version, enabled=False)
        return properties

    def list_secrets(self) -> Iterator[SecretProperties]:
        pages = iter(self._client.list_properties_of_secrets())  # lazy: no request yet
        while True:
            item = self._call(None, lambda: next(pages, None))
            if item is None:
                return
            yield _properties(item, item.name or "")

    def sign_in(self) -> None:
        """A token for the vault's scope, from Entra alone when the vault host tells the scope.

        The token lands in the credential's cache with the options Key Vault's challenge policy
        uses (CAE on, the credential's tenant), so the first vault call reuses it.
        """
        scope = scope_for(self._vault_url)
        if scope is not None:
            options: Any = {"enable_cae": True, "tenant_id": self.credential.tenant_id}
            info = self._call(
                None, lambda: self._identity.get_token_info(scope, options=options), vault=False
            )
            REDACTOR.register(info.token, label=f"access token of credential {self.credential.name}")
            return
        # A host that does not tell: let the vault's challenge name the scope (this also reaches the
        # vault, so a wrong vault URL shows up here as vault-unreachable).
        response = self._call(
            None, lambda: self._client.send_request(HttpRequest("GET", "/secrets?maxresults=1"))
        )
        if response.status_code == 401:
            raise ProviderError(
                f"the vault {self._vault_url} refused the token of credential {self.credential.name!r}",
                diagnosis=Diagnosis.AZURE_ERROR,
                evidence="401",
                credential=self.credential.name,
            )

    def for_vault(self, credential: CredentialSpec) -> AzureKeyVaultProvider:
        """A provider for `credential` (the same identity, another vault) sharing this one's
        sign-in; close it before this one."""
        return AzureKeyVaultProvider(
            credential, max_workers=self._max_workers, signed_in_as=self, **self._retry_options
        )

    def close(self) -> None:
        self._client.close()
        if self._owner:
            self._identity.close()
            self._session.close()

    # --- calls and their failures ---------------------------------------------------------------

    def _call(self, secret: str | None, call: Callable[[], T], *, vault: bool = True) -> T:
        """Run one SDK call, translating its failures.

        The first vault call runs alone: it meets Key Vault's challenge and gets the token, and
        every call started meanwhile would do the same (one extra GET and token request each).
        After a sign-in failure, or a vault that cannot be reached, every later call fails at once
        with it instead of asking again (and waiting through the retries again).  `vault=False`
        marks a call that does not reach the vault (it warms nothing).
        """
        if self._fatal is not None:
            raise self._again(self._fatal, secret)
        if vault and not self._warm.is_set():
            with self._first_call:
                if not self._warm.is_set():
                    try:
                        return self._translated(secret, call)
                    finally:
                        self._warm.set()
            if self._fatal is not None:
                raise self._again(self._fatal, secret)
        return self._translated(secret, call)

    def _translated(self, secret: str | None, call: Callable[[], T]) -> T:
        try:
            return call()
        except (AzureError, ValueError) as exc:
            _LOG.debug("Azure call failed (credential %s, secret %s): %r", self.credential.name, secret, exc)
            error, kind = self.translate(exc, secret)
            if kind in {"auth", "authority", "connection"}:
                # Not about one secret: every later call would meet it too (after its own retries).
                self._fatal = error
            raise error from None

    def translate(self, exc: BaseException, secret: str | None) -> tuple[ProviderError, FailureKind]:
        """`exc` as a ProviderError, and where it happened (classify's `kind`)."""
        cred = self.credential.name
        what = f"secret {secret!r} in {self._vault_url}" if secret else self._vault_url
        ev = evidence_of(exc, tenant_id=self.credential.tenant_id)
        shown = self._scrub(ev.shown)
        if ev.kind in {"auth", "authority"}:
            message = f"signing in with credential {cred!r} failed: {shown}"
        elif ev.kind == "connection":
            message = f"cannot reach the vault {self._vault_url} (credential {cred!r}): {shown}"
        elif ev.kind == "http":
            message = f"reading {what} (credential {cred!r}): {ev.status} {ev.code or ''}: {shown}"
        else:
            message = f"reading {what} (credential {cred!r}): {shown}"
        diagnosis = classify(
            aadsts=ev.aadsts,
            status=ev.status,
            error_code=ev.code,
            inner_code=ev.inner,
            message=ev.text,
            kind=ev.kind,
        )
        hint = None
        keyless = keyless_failure(self.credential, exc, ev, diagnosis, self._presented)
        evidence = ev.evidence
        if keyless is not None:
            diagnosis, hint = keyless.diagnosis, keyless.hint
            message = self._scrub(keyless.message or message + keyless.detail)
            evidence = keyless.evidence or evidence
        error = ProviderError(
            message, diagnosis=diagnosis, evidence=evidence, credential=cred, secret=secret, hint=hint
        )
        return error, ev.kind

    def _again(self, failure: ProviderError, secret: str | None) -> ProviderError:
        return ProviderError(
            failure.message,
            diagnosis=failure.diagnosis or Diagnosis.AZURE_ERROR,
            evidence=failure.evidence,
            credential=failure.credential,
            secret=secret,
        )

    def _not_found(self, name: str, version: str | None) -> ProviderError:
        which = f"version {version} of secret {name!r}" if version else f"secret {name!r}"
        return ProviderError(
            f"{which} is not in {self._vault_url} (credential {self.credential.name!r})",
            diagnosis=Diagnosis.SECRET_NOT_FOUND,
            evidence="not listed",
            credential=self.credential.name,
            secret=name,
        )

    def _scrub(self, text: str) -> str:
        if self._client_secret:
            text = text.replace(self._client_secret, MASK)
        return scrub(text)


def _dropping_value(bundle: Any, name: str) -> SecretProperties:
    """The attributes of a `KeyVaultSecret`; the value it carries goes with the bundle, unread."""
    properties = _properties(bundle.properties, name)
    del bundle
    return properties


def _properties(props: Any, name: str) -> SecretProperties:
    return SecretProperties(
        name=props.name or name,
        version=props.version,
        enabled=props.enabled is not False,
        created_on=props.created_on,
        updated_on=props.updated_on,
        expires_on=props.expires_on,
        not_before=props.not_before,
        content_type=props.content_type,
        tags=dict(props.tags or {}),
    )

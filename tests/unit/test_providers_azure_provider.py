"""The Azure provider's boundary: SDK exceptions -> ProviderError, built by hand (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from baker.diagnose import Diagnosis
from baker.errors import ProviderError
from baker.model import CredentialSpec
from baker.providers.azure import AzureKeyVaultProvider, needs_instance_discovery_disabled, scope_for
from baker.proxies import DirectToLoopback
from baker.secret import Secret

CLIENT_SECRET = "very-secret-client-value-Q7v2"


def spec(**overrides: Any) -> CredentialSpec:
    fields: dict[str, Any] = {
        "name": "prod",
        "provider": "azure-key-vault",
        "vault_url": "https://demo.vault.azure.net",
        "tenant_id": "6f1c0d2e-7a3b-4c5d-9e8f-0a1b2c3d4e5f",
        "client_id": "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516",
        "client_secret": Secret(CLIENT_SECRET),
        "is_default": True,
        "line": 4,
    }
    fields.update(overrides)
    return CredentialSpec(**fields)


@pytest.fixture
def provider() -> Iterator[AzureKeyVaultProvider]:
    made = AzureKeyVaultProvider(spec(), max_workers=24)
    yield made
    made.close()


class FakeResponse:
    """Just what HttpResponseError reads from a response."""

    def __init__(self, status: int, body: object, reason: str = "Error") -> None:
        self.status_code = status
        self.reason = reason
        self.headers: dict[str, str] = {}
        self._body = body if isinstance(body, str) else json.dumps(body)

    def text(self, encoding: str | None = None) -> str:
        return self._body


def vault_error(status: int, code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return {"error": error}


def aad(code: int, text: str) -> ClientAuthenticationError:
    return ClientAuthenticationError(
        message=f"Authentication failed: AADSTS{code}: {text}\r\nTrace ID: 1234\r\nCorrelation ID: 5678\r\n"
    )


def translate(
    provider: AzureKeyVaultProvider, exc: BaseException, name: str | None = "db-password"
) -> ProviderError:
    error, _ = provider.translate(exc, name)
    return error


@pytest.mark.parametrize(
    ("exc", "diagnosis", "evidence"),
    [
        (aad(7000215, "Invalid client secret provided."), Diagnosis.INVALID_CLIENT_SECRET, "AADSTS7000215"),
        (
            aad(7000222, "The provided client secret keys are expired."),
            Diagnosis.CLIENT_SECRET_EXPIRED,
            "AADSTS7000222",
        ),
        (
            aad(700016, "Application with identifier 'x' was not found."),
            Diagnosis.APP_NOT_FOUND,
            "AADSTS700016",
        ),
        (aad(90002, "Tenant 'x' not found."), Diagnosis.TENANT_NOT_FOUND, "AADSTS90002"),
        (
            ClientAuthenticationError(
                message="Authentication failed: Unable to get authority configuration for https://login.x/t."
            ),
            Diagnosis.TENANT_NOT_FOUND,
            "AADSTS90002 (OpenID discovery failed)",
        ),
        (
            HttpResponseError(
                response=FakeResponse(
                    403,
                    vault_error(
                        403, "Forbidden", "Caller is not authorized to perform action", "ForbiddenByRbac"
                    ),
                )
            ),
            Diagnosis.MISSING_ROLE,
            "403 Forbidden ForbiddenByRbac",
        ),
        (
            HttpResponseError(
                response=FakeResponse(
                    403,
                    vault_error(
                        403, "Forbidden", "does not have secrets get permission on key vault", "AccessDenied"
                    ),
                )
            ),
            Diagnosis.LEGACY_ACCESS_POLICY,
            "403 Forbidden AccessDenied",
        ),
        (
            HttpResponseError(
                response=FakeResponse(
                    403,
                    vault_error(
                        403,
                        "Forbidden",
                        "Operation get is not allowed on a disabled secret.",
                        "SecretDisabled",
                    ),
                )
            ),
            Diagnosis.SECRET_DISABLED,
            "403 Forbidden SecretDisabled",
        ),
        (
            ResourceNotFoundError(
                response=FakeResponse(
                    404, vault_error(404, "SecretNotFound", "A secret with (name/id) x was not found")
                )
            ),
            Diagnosis.SECRET_NOT_FOUND,
            "404 SecretNotFound",
        ),
        (
            HttpResponseError(
                response=FakeResponse(
                    429, vault_error(429, "Throttled", "Reason: VaultRequestTypeLimitReached")
                )
            ),
            Diagnosis.THROTTLED,
            "429 Throttled",
        ),
        (
            ServiceRequestError(
                "<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve 'nope.vault.invalid' "
                "([Errno -2] Name or service not known)"
            ),
            Diagnosis.VAULT_UNREACHABLE,
            "the host name does not resolve",
        ),
        (
            ServiceRequestError("Connection refused"),
            Diagnosis.VAULT_UNREACHABLE,
            "the connection was refused",
        ),
        (
            HttpResponseError(
                response=FakeResponse(500, "<html>oops</html>", reason="Internal Server Error")
            ),
            Diagnosis.AZURE_ERROR,
            "500",
        ),
        (
            ClientAuthenticationError(
                response=FakeResponse(401, vault_error(401, "Unauthorized", "AKV10032: Invalid issuer."))
            ),
            Diagnosis.AZURE_ERROR,
            "401 Unauthorized",
        ),
        (ValueError("The challenge resource 'x' does not match"), Diagnosis.AZURE_ERROR, "ValueError"),
    ],
)
def test_sdk_exceptions_become_provider_errors_with_a_diagnosis_when_translated(
    provider: AzureKeyVaultProvider, exc: BaseException, diagnosis: Diagnosis, evidence: str
) -> None:
    error = translate(provider, exc)
    assert error.diagnosis is diagnosis
    assert error.evidence == evidence
    assert error.credential == "prod"
    assert error.secret == "db-password"
    assert error.hint  # every diagnosis carries its fix
    assert "\n" not in error.message and "Trace ID" not in error.message
    assert "urllib3" not in error.message and "0x7f" not in error.message


def test_the_client_secret_never_appears_when_entra_echoes_it() -> None:
    made = AzureKeyVaultProvider(spec())
    try:
        exc = ClientAuthenticationError(
            message=f"Authentication failed: AADSTS7000215: bad secret {CLIENT_SECRET}"
        )
        error = translate(made, exc)
        for text in (error.message, error.evidence, str(error.to_json())):
            assert CLIENT_SECRET not in text
        assert error.diagnosis is Diagnosis.INVALID_CLIENT_SECRET
    finally:
        made.close()


def test_an_unreachable_entra_is_named_as_such_when_the_token_request_cannot_connect(
    provider: AzureKeyVaultProvider,
) -> None:
    try:
        try:
            raise ServiceRequestError("Failed to resolve 'login.nope.invalid'")
        except ServiceRequestError as cause:
            raise ClientAuthenticationError(message=f"Authentication failed: {cause}") from cause
    except ClientAuthenticationError as exc:
        error = translate(provider, exc)
    assert error.diagnosis is Diagnosis.AZURE_ERROR
    assert "cannot reach Microsoft Entra" in error.message
    assert error.evidence == "connection"


def test_a_vault_in_another_tenant_is_explained_when_azure_identity_refuses_the_challenge(
    provider: AzureKeyVaultProvider,
) -> None:
    exc = ClientAuthenticationError(
        message="The current credential is not configured to acquire tokens for tenant "
        "11111111-2222-4333-8444-555555555555. To enable acquiring tokens for this tenant add it to the "
        "additionally_allowed_tenants when creating the credential."
    )
    error = translate(provider, exc)
    assert error.diagnosis is Diagnosis.TENANT_NOT_FOUND
    assert "belongs to tenant 11111111-2222-4333-8444-555555555555" in error.message
    assert "6f1c0d2e-7a3b-4c5d-9e8f-0a1b2c3d4e5f" in error.message


def test_later_calls_fail_fast_with_the_sign_in_failure_when_sign_in_failed_once(
    provider: AzureKeyVaultProvider,
) -> None:
    calls: list[str] = []

    def refused() -> None:
        calls.append("token")
        raise aad(7000215, "Invalid client secret provided.")

    with pytest.raises(ProviderError) as first:
        provider._call("a", refused)
    with pytest.raises(ProviderError) as second:
        provider._call("b", refused)
    assert calls == ["token"]
    assert first.value.diagnosis is second.value.diagnosis is Diagnosis.INVALID_CLIENT_SECRET
    assert (first.value.secret, second.value.secret) == ("a", "b")


def test_later_calls_fail_fast_when_the_vault_could_not_be_reached(provider: AzureKeyVaultProvider) -> None:
    calls: list[str] = []

    def unreachable() -> None:
        calls.append("get")
        raise ServiceRequestError("Failed to resolve 'nope.vault.invalid'")

    for name in ("a", "b", "c"):
        with pytest.raises(ProviderError) as caught:
            provider._call(name, unreachable)
        assert caught.value.diagnosis is Diagnosis.VAULT_UNREACHABLE
        assert caught.value.secret == name
    assert calls == ["get"]


def test_vault_errors_are_not_remembered_when_one_secret_fails(provider: AzureKeyVaultProvider) -> None:
    def missing() -> None:
        raise ResourceNotFoundError(response=FakeResponse(404, vault_error(404, "SecretNotFound", "x")))

    with pytest.raises(ProviderError):
        provider._call("a", missing)
    assert provider._call("b", lambda: "read") == "read"


def test_the_first_call_runs_alone_when_calls_start_together(provider: AzureKeyVaultProvider) -> None:
    first_done = threading.Event()
    seen: list[bool] = []

    def first() -> None:
        threading.Event().wait(0.2)
        first_done.set()

    def second() -> None:
        seen.append(first_done.is_set())

    worker = threading.Thread(target=provider._call, args=("a", first))
    worker.start()
    threading.Event().wait(0.05)
    provider._call("b", second)
    worker.join()
    assert seen == [True]


def props(version: str, created: int | None, enabled: bool = True) -> SimpleNamespace:
    return SimpleNamespace(
        name="legacy-key",
        version=version,
        enabled=enabled,
        created_on=None if created is None else datetime.fromtimestamp(created, tz=timezone.utc),
        updated_on=None,
        expires_on=None,
        not_before=None,
        content_type=None,
        tags=None,
    )


class FakeClient:
    """Stands in for SecretClient: the seam the provider drives."""

    def __init__(self, versions: list[SimpleNamespace]) -> None:
        self.versions = versions
        self.gets: list[tuple[str, str | None]] = []

    def list_properties_of_secret_versions(self, name: str) -> list[SimpleNamespace]:
        return self.versions

    def get_secret(self, name: str, version: str | None = None) -> SimpleNamespace:
        self.gets.append((name, version))
        return SimpleNamespace(value="legacy-v2-value", properties=self.versions[0])

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("versions", "version", "expected", "reads_value"),
    [
        ([props("a" * 32, 100), props("b" * 32, 200), props("c" * 32, 150)], None, "b" * 32, False),
        ([props("a" * 32, 100), props("b" * 32, 200, enabled=False)], None, "b" * 32, False),
        ([props("a" * 32, 100), props("b" * 32, 200)], "A" * 32, "a" * 32, False),
        ([props("a" * 32, 200), props("b" * 32, 200)], None, "a" * 32, True),
        ([props("a" * 32, None)], None, "a" * 32, True),
    ],
)
def test_properties_come_from_the_versions_list_when_creation_times_tell(
    provider: AzureKeyVaultProvider,
    versions: list[SimpleNamespace],
    version: str | None,
    expected: str,
    reads_value: bool,
) -> None:
    fake = FakeClient(versions)
    provider._client = fake  # type: ignore[assignment]
    got = provider.get_properties("legacy-key", version)
    assert got.version == expected
    assert bool(fake.gets) is reads_value


def test_a_pinned_version_missing_from_the_list_is_not_found_when_asked_for(
    provider: AzureKeyVaultProvider,
) -> None:
    provider._client = FakeClient([props("a" * 32, 100)])  # type: ignore[assignment]
    with pytest.raises(ProviderError) as caught:
        provider.get_properties("legacy-key", "f" * 32)
    assert caught.value.diagnosis is Diagnosis.SECRET_NOT_FOUND


@pytest.mark.parametrize(
    ("vault_url", "scope"),
    [
        ("https://demo.vault.azure.net", "https://vault.azure.net/.default"),
        ("https://demo.vault.azure.net/", "https://vault.azure.net/.default"),
        ("https://x.vault.azure.cn", "https://vault.azure.cn/.default"),
        ("https://x.vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net/.default"),
        ("https://demo.vault.localhost:8443", "https://vault.localhost:8443/.default"),
        ("https://127.0.0.1:8443", None),
        ("https://secrets.example.com", None),
    ],
)
def test_the_sign_in_scope_is_derived_from_the_vault_host_when_it_tells(
    vault_url: str, scope: str | None
) -> None:
    assert scope_for(vault_url) == scope


@pytest.mark.parametrize(
    ("authority", "disabled"),
    [
        (None, False),
        ("https://login.microsoftonline.com", False),
        ("login.microsoftonline.us", False),
        ("https://login.chinacloudapi.cn/", False),
        ("https://login.localhost:8443", True),
        ("https://adfs.contoso.com/adfs", True),
    ],
)
def test_instance_discovery_is_disabled_only_when_msal_does_not_know_the_authority(
    authority: str | None, disabled: bool
) -> None:
    assert needs_instance_discovery_disabled(authority) is disabled


def test_the_connection_pool_is_sized_to_the_workers_when_opened(provider: AzureKeyVaultProvider) -> None:
    adapter = provider._session.get_adapter("https://demo.vault.azure.net")
    assert isinstance(adapter, DirectToLoopback)  # a loopback vault never through a proxy
    assert adapter.inner._pool_maxsize == 24  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_secret": None, "unset_vars": ("AZURE_CLIENT_SECRET",)},
        {"authority_host": "http://login.example.com"},
    ],
)
def test_opening_fails_with_a_provider_error_when_the_credential_cannot_work(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(ProviderError) as caught:
        AzureKeyVaultProvider(spec(**overrides))
    assert caught.value.credential == "prod"
    assert CLIENT_SECRET not in caught.value.message

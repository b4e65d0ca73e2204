"""What each diagnosis means and how to fix it, in plain words.

`TABLE` is the single source of the troubleshooting table: the README's copy is generated from it
(`python -m baker.diagnose --markdown`) and a test keeps the two equal.  Mapping Azure's evidence to
a diagnosis lives here too (`classify`), as plain data in, so it is tested without the SDK.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from baker.errors import Diagnosis


@dataclass(frozen=True)
class Entry:
    cause: str
    seen_as: str
    fix: str


TABLE: dict[Diagnosis, Entry] = {
    Diagnosis.INVALID_CLIENT_SECRET: Entry(
        "the client secret is wrong, or its ID was pasted instead of its value",
        "AADSTS7000215",
        "Create a new client secret in the portal (Microsoft Entra ID > App registrations > your app > "
        "Certificates & secrets > New client secret) and store its Value, not its Secret ID; or "
        "`az ad app credential reset --id <client-id> --append`.",
    ),
    Diagnosis.CLIENT_SECRET_EXPIRED: Entry(
        "the client secret passed its expiry date",
        "AADSTS7000222",
        "Add a new client secret (App registrations > your app > Certificates & secrets) or run "
        "`az ad app credential reset --id <client-id> --append`, update the CI secret, then delete the "
        "expired one.",
    ),
    Diagnosis.APP_NOT_FOUND: Entry(
        "the client ID is not an app in that tenant (tenant and client ID mismatch)",
        "AADSTS700016",
        "Copy the Application (client) ID and the Directory (tenant) ID from the same app's Overview "
        "blade in App registrations; check with `az ad app show --id <client-id>`.",
    ),
    Diagnosis.TENANT_NOT_FOUND: Entry(
        "the tenant ID is unknown",
        "AADSTS90002",
        "Use the Directory (tenant) ID from Microsoft Entra ID > Overview, or `az account show --query "
        "tenantId -o tsv`.",
    ),
    Diagnosis.MISSING_ROLE: Entry(
        "the app has no Key Vault Secrets User role on the vault or the secret",
        "403 Forbidden, ForbiddenByRbac",
        "Grant the role (vault > Access control (IAM) > Add role assignment > Key Vault Secrets User), or "
        "`az role assignment create --role 'Key Vault Secrets User' --assignee <client-id> --scope "
        "<vault-resource-id>`; role assignments can take a few minutes to apply.",
    ),
    Diagnosis.LEGACY_ACCESS_POLICY: Entry(
        "the vault still uses the access-policy permission model",
        "403 Forbidden from an access-policy vault",
        "Switch the vault to Azure RBAC (vault > Access configuration > Azure role-based access control, "
        "or `az keyvault update --name <vault> --enable-rbac-authorization true`) and grant Key Vault "
        "Secrets User; or add an access policy with Get and List on secrets (`az keyvault set-policy "
        "--name <vault> --spn <client-id> --secret-permissions get list`).",
    ),
    Diagnosis.VAULT_UNREACHABLE: Entry(
        "the vault URL is wrong, its name does not resolve, or it sits behind a private endpoint",
        "connection or name resolution error",
        "Check vault_url against the vault's Overview blade (Vault URI) or `az keyvault show --name "
        "<vault> --query properties.vaultUri`; a vault with a private endpoint must be reached from a "
        "network that resolves its privatelink name (vault > Networking).",
    ),
    Diagnosis.SECRET_NOT_FOUND: Entry(
        "there is no secret of that name (after `_` becomes `-`) or version in the vault",
        "404 SecretNotFound",
        "List the names with `baker secrets list` or `az keyvault secret list --vault-name <vault> "
        "--query [].name`; a deleted secret can be recovered with `az keyvault secret recover`.",
    ),
    Diagnosis.SECRET_DISABLED: Entry(
        "the secret, or the pinned version, is disabled",
        "403 Forbidden, SecretDisabled",
        "Enable it (vault > Secrets > the secret > the version > Enabled) or `az keyvault secret "
        "set-attributes --vault-name <vault> --name <secret> --enabled true`; or pin another version.",
    ),
    Diagnosis.JSON_KEY_NOT_FOUND: Entry(
        "the secret is not a JSON object, or it lacks the key after `#`",
        "the secret's value",
        "Check the key after `#` in the manifest against the secret's JSON (keys are case-sensitive), "
        "or drop `#key` to use the whole value.",
    ),
    Diagnosis.NO_CREDENTIAL: Entry(
        "the reference names no credential and the manifest has no default, or two",
        "the manifest",
        "Mark exactly one credential with `default: true`, or add `credential:` to the reference.",
    ),
    Diagnosis.THROTTLED: Entry(
        "Key Vault kept answering 429 after the retries",
        "429 Throttled",
        "Retry later; reduce how many bakes run at once against the vault, or reference fewer secrets "
        "(a JSON secret with `#key` references holds many values in one read).",
    ),
    Diagnosis.FEDERATED_IDENTITY_MISMATCH: Entry(
        "no federated credential on the app matches the token's issuer, subject or audience",
        "AADSTS70021, AADSTS700211, AADSTS700212, AADSTS700213",
        "Add a federated credential with the issuer, subject and audience baker names (App "
        "registrations > your app > Certificates & secrets > Federated credentials > Add credential), "
        "or `az ad app federated-credential create --id <client-id> --parameters "
        '\'{"name":"baker","issuer":"<issuer>","subject":"<subject>",'
        '"audiences":["api://AzureADTokenExchange"]}\'`. '
        "Subjects match exactly: GitHub `repo:ORG/REPO:ref:refs/heads/main` (a branch), "
        "`repo:ORG/REPO:environment:NAME` (a job with `environment:`), `repo:ORG/REPO:pull_request`; "
        "GitLab `project_path:GROUP/PROJECT:ref_type:branch:ref:main`; Azure Pipelines "
        "`sc://ORG/PROJECT/CONNECTION`.",
    ),
    Diagnosis.FEDERATED_TOKEN_EXPIRED: Entry(
        "the federated token is outside its validity (expired, or not valid yet)",
        "AADSTS700024",
        "Make sure the token is fresh: GitHub and Azure Pipelines tokens are fetched by baker when it "
        "signs in; a token file must be rotated by its writer (AKS does it); a `federated_token: "
        "${VAR}` token (GitLab `id_tokens:`) lives as long as the job's `expires_in`. Check the "
        "runner's clock.",
    ),
    Diagnosis.NO_FEDERATED_TOKEN: Entry(
        "`auth: workload-identity` and no token source is present",
        "the environment (before any network call)",
        "Give the job an OIDC token: GitHub Actions `permissions: id-token: write`; Azure Pipelines "
        "an AzureCLI@2 step on a workload-identity service connection with `SYSTEM_ACCESSTOKEN: "
        "$(System.AccessToken)` and the credential's `service_connection_id:`; GitLab `id_tokens: "
        "{AZURE_FEDERATED_TOKEN: {aud: api://AzureADTokenExchange}}` and `federated_token: "
        "${AZURE_FEDERATED_TOKEN}`; AKS workload identity (the pod label "
        '`azure.workload.identity/use: "true"`) writes AZURE_FEDERATED_TOKEN_FILE. A pull request '
        "from a fork gets no token.",
    ),
    Diagnosis.MANAGED_IDENTITY_UNAVAILABLE: Entry(
        "no managed identity endpoint answers on this host, or it refused the identity",
        "the managed identity endpoint's answer, or none",
        "Run baker where a managed identity is assigned (VM, App Service, Container Apps, AKS): "
        "resource > Identity > System assigned > On, or assign the user-assigned identity and set "
        "the credential's `client_id:` to its client ID; then grant it Key Vault Secrets User.",
    ),
    Diagnosis.AZURE_CLI_NOT_SIGNED_IN: Entry(
        "`auth: azure-cli` and `az` is missing, or not signed in",
        "the Azure CLI's answer",
        "Install the Azure CLI and run `az login` (with `--tenant <tenant-id>` for another directory); "
        "check with `az account get-access-token --scope https://vault.azure.net/.default`.",
    ),
    Diagnosis.AZURE_ERROR: Entry(
        "Azure refused the request for another reason",
        "any other error answer",
        "Run again with --debug to see Azure's answer (values are never shown).",
    ),
}


# Entra's AADSTS codes that name a cause of their own (see AZURE-WIRE.md, "Entra error bodies").
_AADSTS: dict[int, Diagnosis] = {
    7000215: Diagnosis.INVALID_CLIENT_SECRET,
    7000222: Diagnosis.CLIENT_SECRET_EXPIRED,
    700016: Diagnosis.APP_NOT_FOUND,
    90002: Diagnosis.TENANT_NOT_FOUND,
    70021: Diagnosis.FEDERATED_IDENTITY_MISMATCH,
    700211: Diagnosis.FEDERATED_IDENTITY_MISMATCH,
    700212: Diagnosis.FEDERATED_IDENTITY_MISMATCH,
    700213: Diagnosis.FEDERATED_IDENTITY_MISMATCH,
    700024: Diagnosis.FEDERATED_TOKEN_EXPIRED,
}

# Key Vault's inner error codes (the `innererror.code` of a 403/404 body), and the outer codes
# Key Vault uses when there is no inner one.
_VAULT_CODES: dict[str, Diagnosis] = {
    "forbiddenbyrbac": Diagnosis.MISSING_ROLE,
    "accessdenied": Diagnosis.LEGACY_ACCESS_POLICY,
    "secretdisabled": Diagnosis.SECRET_DISABLED,
    "secretnotfound": Diagnosis.SECRET_NOT_FOUND,
    # A vault firewall or private link refusing the caller's network: the vault is, for this
    # caller, unreachable; the fix (vault > Networking) is the same.
    "forbiddenbyfirewall": Diagnosis.VAULT_UNREACHABLE,
    "forbiddenbyconnection": Diagnosis.VAULT_UNREACHABLE,
    "throttled": Diagnosis.THROTTLED,
    # No vault of that name behind the host (what a wrong vault_url meets where DNS answers anyway).
    "vaultnotfound": Diagnosis.VAULT_UNREACHABLE,
}

# Words in a 403's message when the code alone does not tell (older API versions, proxies).
_ACCESS_POLICY_WORDS = ("access policy", "does not have secrets")
# MSAL's words when the tenant's OpenID configuration could not be read (an unknown tenant shows
# up this way, not as AADSTS90002: the discovery GET fails before any token request).
_NO_AUTHORITY_CONFIG = "unable to get authority configuration"
# azure-identity's words when the vault's challenge names a tenant other than the credential's: the
# credential's tenant ID is not the vault's (unknown, or another directory), so the same fix applies.
_OTHER_TENANT = "not configured to acquire tokens for tenant"


def classify(
    *,
    aadsts: int | None,
    status: int | None,
    error_code: str | None,
    inner_code: str | None,
    message: str,
    kind: str,
) -> Diagnosis:
    """The diagnosis for one Azure failure, from the evidence the provider extracted.

    `kind` says where the failure happened: "auth" (Entra refused or could not be asked for a
    token), "authority" (Entra's OpenID configuration could not be read), "connection" (the vault
    could not be reached), "http" (the vault answered with an error status).
    """
    if aadsts is not None and aadsts in _AADSTS:
        return _AADSTS[aadsts]
    lowered = message.lower()
    if kind in {"auth", "authority"}:
        if _NO_AUTHORITY_CONFIG in lowered or _OTHER_TENANT in lowered:
            return Diagnosis.TENANT_NOT_FOUND
        return Diagnosis.AZURE_ERROR
    if kind == "connection":
        return Diagnosis.VAULT_UNREACHABLE
    for code in (inner_code, error_code):
        if code and code.lower() in _VAULT_CODES:
            return _VAULT_CODES[code.lower()]
    if status == 429:
        return Diagnosis.THROTTLED
    if status == 404 and (error_code or "secret" in lowered):
        # A 404 without Key Vault's error body is some other server (a wrong vault_url).
        return Diagnosis.SECRET_NOT_FOUND
    if status == 403:
        if "disabled" in lowered:
            return Diagnosis.SECRET_DISABLED
        if any(words in lowered for words in _ACCESS_POLICY_WORDS):
            return Diagnosis.LEGACY_ACCESS_POLICY
        if "not authorized" in lowered or "rbac" in lowered:
            return Diagnosis.MISSING_ROLE
    return Diagnosis.AZURE_ERROR


def fix_for(diagnosis: Diagnosis) -> str:
    return TABLE[diagnosis].fix


def markdown_table() -> str:
    """The README's troubleshooting table, generated from `TABLE`."""
    rows = ["| code | cause | seen as | fix |", "|---|---|---|---|"]
    for code, entry in TABLE.items():
        fix = entry.fix.replace("|", "\\|")
        rows.append(f"| `{code.value}` | {entry.cause} | {entry.seen_as} | {fix} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - exercised by the README test through markdown_table()
    if sys.argv[1:] == ["--markdown"]:
        sys.stdout.write(markdown_table())

"""What each diagnosis means and how to fix it, in plain words.

`TABLE` is the single source of the troubleshooting table: the README's copy is generated from it
(`python -m baker.diagnose --markdown`) and a test keeps the two equal.  A leaf: imports nothing of
baker's, and knows no Azure code (mapping Azure's evidence to a diagnosis is
`baker.providers.azure.classify`).
"""

from __future__ import annotations

import enum
import sys
from typing import NamedTuple


class Diagnosis(str, enum.Enum):
    """The SPEC's diagnosis codes.  Causes and fixes: `TABLE` below."""

    # S105 (hardcoded password) misfires on names containing SECRET: these are codes, not credentials.

    INVALID_CLIENT_SECRET = "invalid-client-secret"  # noqa: S105
    CLIENT_SECRET_EXPIRED = "client-secret-expired"  # noqa: S105
    APP_NOT_FOUND = "app-not-found"
    TENANT_NOT_FOUND = "tenant-not-found"
    MISSING_ROLE = "missing-role"
    LEGACY_ACCESS_POLICY = "legacy-access-policy"
    VAULT_UNREACHABLE = "vault-unreachable"
    SECRET_NOT_FOUND = "secret-not-found"  # noqa: S105
    SECRET_DISABLED = "secret-disabled"  # noqa: S105
    JSON_KEY_NOT_FOUND = "json-key-not-found"
    NOT_A_CERTIFICATE = "not-a-certificate"
    NO_CREDENTIAL = "no-credential"
    THROTTLED = "throttled"
    # Keyless sign-in (`auth:` other than client-secret).
    FEDERATED_IDENTITY_MISMATCH = "federated-identity-mismatch"
    FEDERATED_TOKEN_EXPIRED = "federated-token-expired"  # noqa: S105
    NO_FEDERATED_TOKEN = "no-federated-token"  # noqa: S105
    MANAGED_IDENTITY_UNAVAILABLE = "managed-identity-unavailable"
    AZURE_CLI_NOT_SIGNED_IN = "azure-cli-not-signed-in"
    # Not in the SPEC's table: anything Azure answered that none of the above explains.
    AZURE_ERROR = "azure-error"

    def __str__(self) -> str:
        return self.value


class Entry(NamedTuple):  # not a Record: this module is a leaf, it imports nothing of baker's
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
    Diagnosis.NOT_A_CERTIFICATE: Entry(
        "a `certificate:` names a secret that is not a certificate's (or cannot be read as one)",
        "the secret's contentType is not application/x-pkcs12 or application/x-pem-file",
        "Name the certificate itself (Key Vault keeps its key and chain in the secret of the "
        "certificate's name: `az keyvault certificate show --vault-name <vault> --name <name>`), or "
        "use `secret:` for a plain secret.",
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

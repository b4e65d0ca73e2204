"""Keyless sign-in, offline: where a credential's federated token will come from, which managed
identity endpoint azure-identity will ask, where `az` is.  The types (`AuthSpec`, `TokenSource`) and
the auth kinds live in `baker.model`, which the provider reads too.

The SPEC's order for `auth: workload-identity` (the first present wins):

1. the credential's `federated_token_file:` (a file that exists),
2. AZURE_FEDERATED_TOKEN_FILE (a file that exists; AKS writes it),
3. GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN,
4. Azure Pipelines: SYSTEM_OIDCREQUESTURI + SYSTEM_ACCESSTOKEN + the credential's
   `service_connection_id:`,
5. the credential's `federated_token: ${VAR}` with VAR set (GitLab's `id_tokens:`).

Everything here reads the environment and the file system only: no network, no azure import.
The request tokens and federated tokens found are `Secret`s, registered with the Redactor by the
loader (`baker.manifest.auth`) before any message could quote them; `where` texts never hold one.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from baker import loopback
from baker.model import AZURE_PIPELINES, FEDERATED_TOKEN_MAX, FILE, GITHUB, VARIABLE, TokenSource
from baker.secret import Secret

GITHUB_URL_VAR = "ACTIONS_ID_TOKEN_REQUEST_URL"
GITHUB_TOKEN_VAR = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable's name
PIPELINES_URL_VAR = "SYSTEM_OIDCREQUESTURI"
PIPELINES_TOKEN_VAR = "SYSTEM_ACCESSTOKEN"  # noqa: S105 - a variable's name
TOKEN_FILE_VAR = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 - a variable's name
# Variables whose values are secrets wherever keyless sign-in reads them.
SECRET_VARS = (GITHUB_TOKEN_VAR, PIPELINES_TOKEN_VAR, "IDENTITY_HEADER", "MSI_SECRET")
# The managed identity endpoints azure-identity may send IDENTITY_HEADER / MSI_SECRET to.
IDENTITY_URL_VARS = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT")


def find_token_source(
    environ: Mapping[str, str],
    *,
    token_file: str | None,
    token_file_key: str | None,
    token_var: str | None,
    service_connection_id: str | None,
    audience: str,
) -> tuple[TokenSource | None, str]:
    """The first token source present, and the sources looked for (for the warning or refusal).

    `token_file` is the credential's `federated_token_file:` (None: not written, or its variable
    unset); `token_file_key` says how it was written.  `token_var` names `federated_token: ${VAR}`.
    """
    looked: list[str] = []
    if token_file_key is not None:
        why = not_a_token_file(token_file) if token_file is not None else "unset"
        if token_file is not None and why is None:
            return TokenSource(FILE, f"{token_file_key} ({token_file})", path=token_file), ""
        looked.append(f"{token_file_key} ({why})")
    env_file = environ.get(TOKEN_FILE_VAR) or ""
    why = not_a_token_file(env_file) if env_file else None
    if env_file and why is None:
        return TokenSource(FILE, f"{TOKEN_FILE_VAR} ({env_file})", path=env_file), ""
    looked.append(TOKEN_FILE_VAR + (f" ({why})" if why else ""))
    url, request_token = environ.get(GITHUB_URL_VAR), environ.get(GITHUB_TOKEN_VAR)
    if url and request_token:
        where = f"GitHub Actions ({GITHUB_URL_VAR}, audience {audience})"
        return TokenSource(GITHUB, where, request_url=url, request_token=Secret(request_token)), ""
    looked.append(f"GitHub Actions ({GITHUB_URL_VAR} + {GITHUB_TOKEN_VAR}; `permissions: id-token: write`)")
    url, access_token = environ.get(PIPELINES_URL_VAR), environ.get(PIPELINES_TOKEN_VAR)
    if url and access_token and service_connection_id:
        where = f"Azure Pipelines (service connection {service_connection_id})"
        source = TokenSource(AZURE_PIPELINES, where, request_url=url, request_token=Secret(access_token))
        return source, ""
    looked.append(
        f"Azure Pipelines ({PIPELINES_URL_VAR} + {PIPELINES_TOKEN_VAR} + service_connection_id"
        + ("" if service_connection_id else ", which the credential does not set")
        + ")"
    )
    if token_var is not None:
        value = environ.get(token_var)
        if value and len(value) <= FEDERATED_TOKEN_MAX:
            return TokenSource(VARIABLE, f"federated_token ${{{token_var}}}", token=Secret(value)), ""
        looked.append(
            f"federated_token ${{{token_var}}} ("
            + (
                f"{len(value)} characters; a federated token is a JWT of a few KiB, baker refuses "
                f"more than {FEDERATED_TOKEN_MAX}"
                if value
                else "unset"
            )
            + ")"
        )
    else:
        looked.append("federated_token: ${VAR} (not written)")
    return None, "; ".join(looked)


def not_a_token_file(path: str) -> str | None:
    """Why `path` cannot be a token file (no such file; a FIFO, a directory, a device: what it is),
    or None for a regular file.  `stat` only: never opened, so a FIFO cannot block."""
    try:
        mode = Path(path).stat().st_mode
    except FileNotFoundError:
        return f"no such file: {path}"
    except OSError as exc:
        return f"cannot look at {path}: {exc.strerror or type(exc).__name__}"
    if stat.S_ISREG(mode):
        return None
    return f"{path} is {file_kind(mode)}, not a regular file"


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((words for test, words in kinds if test(mode)), "not a regular file")


def source_in_clear(source: TokenSource) -> str | None:
    """A GitHub Actions or Azure Pipelines source whose request URL would carry its request token in
    clear (`loopback.refusal`); None for any other source."""
    if source.request_url is None:
        return None
    if source.kind == GITHUB:
        return loopback.refusal(GITHUB_URL_VAR, source.request_url, GITHUB_TOKEN_VAR)
    return loopback.refusal(PIPELINES_URL_VAR, source.request_url, PIPELINES_TOKEN_VAR)


def managed_identity_in_clear(environ: Mapping[str, str]) -> str | None:
    """A managed identity endpoint variable set to a URL that would carry IDENTITY_HEADER /
    MSI_SECRET in clear (real ones are https, or http on localhost)."""
    for var in IDENTITY_URL_VARS:
        url = environ.get(var)
        if url:
            refusal = loopback.refusal(var, url, "the managed identity header (IDENTITY_HEADER / MSI_SECRET)")
            if refusal:
                return refusal
    return None


def managed_identity_where(environ: Mapping[str, str], client_id: str | None) -> str:
    """Which managed identity endpoint azure-identity will ask (the same checks, in its order)."""
    who = f"user-assigned identity {client_id}" if client_id else "the system-assigned identity"
    if environ.get("IDENTITY_ENDPOINT"):
        if environ.get("IDENTITY_HEADER"):
            if environ.get("IDENTITY_SERVER_THUMBPRINT"):
                return f"{who}, Service Fabric endpoint (IDENTITY_ENDPOINT)"
            return f"{who}, App Service / Container Apps endpoint (IDENTITY_ENDPOINT)"
        if environ.get("IMDS_ENDPOINT"):
            return f"{who}, Azure Arc endpoint (IDENTITY_ENDPOINT)"
    if environ.get("MSI_ENDPOINT"):
        return f"{who}, Cloud Shell endpoint (MSI_ENDPOINT)"
    return f"{who}, instance metadata service (IMDS: Azure VMs, scale sets, AKS nodes)"


def azure_cli_path(environ: Mapping[str, str]) -> str | None:
    """Where `az` is on the PATH baker runs with (None: not installed)."""
    return shutil.which("az", path=environ.get("PATH", os.defpath))

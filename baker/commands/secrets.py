"""`baker secrets list [CREDENTIAL] [--prefix P]`: the secret names a vault holds (what
autocomplete offers), with enabled / expires / content type / updated.  Never a value: only the
list call is made, and Key Vault's list answers carry no values.

The default credential when none is named.  `--prefix` matches the start of the Azure name, with
`_` read as `-` and case ignored, the way references are matched.  A credential granted single
secrets only (no list permission at vault scope) gets a message naming the missing permission and
saying to type full names instead.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from baker import providers, urls
from baker.commands._common import load_manifest
from baker.diagnose import Diagnosis, fix_for
from baker.errors import EXIT_OK, ProviderError, UsageError
from baker.model import CredentialSpec, marked_default
from baker.output import Output, untrusted
from baker.providers.base import OpenProvider, Provider, SecretProperties

LIST_PERMISSION = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"


def list_secrets(
    *,
    out: Output,
    file: Path,
    credential: str | None,
    prefix: str | None,
    open_provider: OpenProvider | None = None,
) -> int:
    """`open_provider` is a seam for tests; by default `baker.providers.open_provider`."""
    manifest = load_manifest(out, file)
    name = credential if credential is not None else manifest.default_credential
    if credential is not None and credential not in manifest.credentials:
        known = ", ".join(manifest.credentials) or "none"
        raise UsageError(f"no credential {credential!r} in {file}", hint=f"the manifest defines: {known}")
    if name is None:
        several = len(marked_default(manifest.credentials)) > 1
        why = "two or more credentials are marked default" if several else "no credential is the default"
        raise UsageError(
            f"name the credential to list: {why}",
            hint=f"`baker secrets list CREDENTIAL`; or: {fix_for(Diagnosis.NO_CREDENTIAL)}",
            diagnosis=Diagnosis.NO_CREDENTIAL,
        )
    manifest.require_credentials([name])
    spec = manifest.credentials[name]
    provider = open_provider(spec) if open_provider is not None else _default_open(spec)
    wanted = (prefix or "").replace("_", "-").lower()
    try:
        found = [p for p in provider.list_secrets() if p.name.lower().startswith(wanted)]
    except ProviderError as exc:
        if exc.diagnosis == Diagnosis.MISSING_ROLE:
            raise _cannot_list(spec, exc) from None
        raise
    finally:
        provider.close()
    found.sort(key=lambda p: p.name.lower())
    _print(out, spec, found, prefix)
    out.result(
        {
            "credential": name,
            "vault_url": _vault(spec),
            "prefix": prefix,
            "secrets": [_row(p) for p in found],
        }
    )
    return EXIT_OK


# Listing pages through the vault one call at a time: a small connection pool is enough.
LIST_WORKERS = 4


def _default_open(spec: CredentialSpec) -> Provider:
    return providers.open_provider(spec, workers=LIST_WORKERS)


def _cannot_list(spec: CredentialSpec, exc: ProviderError) -> ProviderError:
    return ProviderError(
        f"credential {spec.name!r} may not list the secrets of {_vault(spec)}: it lacks {LIST_PERMISSION} "
        "at vault scope (it may still read the single secrets it was granted)",
        diagnosis=Diagnosis.MISSING_ROLE,
        evidence=exc.evidence,
        credential=spec.name,
        hint="type the secrets' full names in the manifest instead; to list, grant Key Vault Secrets User "
        "on the vault itself (vault > Access control (IAM) > Add role assignment), or `az role assignment "
        "create --role 'Key Vault Secrets User' --assignee <client-id> --scope <vault-resource-id>`",
    )


def _vault(spec: CredentialSpec) -> str:
    """The vault as connected to: a non-ASCII host in its IDNA form, not the name it looks like."""
    return urls.as_connected(spec.vault_url)


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment is not None else "-"


def _row(props: SecretProperties) -> dict[str, object]:
    return {
        "name": props.name,
        "enabled": props.enabled,
        "expires_on": props.expires_on.isoformat() if props.expires_on else None,
        "content_type": props.content_type,
        "updated_on": props.updated_on.isoformat() if props.updated_on else None,
    }


def _print(out: Output, spec: CredentialSpec, found: list[SecretProperties], prefix: str | None) -> None:
    if not found:
        what = f"starting with {prefix!r} " if prefix else ""
        out.info(f"no secrets {what}in {_vault(spec)}")
        return
    # Names and content types are what the vault answered: escaped, so none can start a line or
    # reach the terminal as a control sequence.
    rows = [
        (
            untrusted(p.name),
            "yes" if p.enabled else "no",
            _date(p.expires_on),
            untrusted(p.content_type or "-"),
            _date(p.updated_on),
        )
        for p in found
    ]
    header = ("NAME", "ENABLED", "EXPIRES", "CONTENT TYPE", "UPDATED")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        out.info("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    plural = "" if len(found) == 1 else "s"
    out.progress(f"{len(found)} secret{plural} in {_vault(spec)} (credential {spec.name})")

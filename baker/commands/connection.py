"""`baker test-connection [CREDENTIAL]`: sign in and prove read access, per credential.

For each credential (all, or the one named): sign in (proves tenant, client ID and client secret),
then prove the vault can be read: by listing its first page of secret names, and by reading the
metadata (never the value) of every secret the manifest references through that credential.  A
per-secret grant (listing refused with missing-role, each referenced secret readable) passes with a
note that listing, which `baker secrets list` and autocomplete use, is unavailable.  A referenced
secret that is missing or disabled fails the credential (a bake would fail); one that has expired,
expires soon or is not valid yet is a warning.

Each failure carries its diagnosis code, Azure's evidence and the fix.  Nothing here reads a
value, so none can be printed; the client secret never is either (the Output redacts both anyway).
"""

from __future__ import annotations

from pathlib import Path

from baker import providers, urls
from baker.check.lifetime import lifetime_warnings
from baker.commands._common import load_manifest
from baker.diagnose import Diagnosis, fix_for
from baker.envfrom import LIST_HINT
from baker.errors import EXIT_FAILURE, EXIT_OK, ManifestError, ProviderError, UsageError
from baker.model import CredentialSpec, Manifest
from baker.output import Output
from baker.providers.base import OpenProvider, Provider, SecretProperties
from baker.record import Record, field

_LISTING_REFUSED = {Diagnosis.MISSING_ROLE, Diagnosis.LEGACY_ACCESS_POLICY}
_LISTING_NOTE = (
    "listing is unavailable (no Microsoft.KeyVault/vaults/secrets/readMetadata/action at vault scope): "
    "bakes work, but `baker secrets list` and name autocomplete do not; grant Key Vault Secrets User on "
    "the vault to enable them"
)


class Failure(Record, frozen=False):
    code: str | None
    message: str
    evidence: str = ""
    fix: str | None = None
    secret: str | None = None

    @classmethod
    def of(cls, exc: ProviderError, secret: str | None = None) -> Failure:
        code = exc.diagnosis.value if exc.diagnosis is not None else None
        return cls(code, exc.message, exc.evidence, exc.hint, secret or exc.secret)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "evidence": self.evidence,
            "fix": self.fix,
            "secret": self.secret,
        }


class CredentialResult(Record, frozen=False):
    name: str
    vault_url: str
    signed_in: bool = False
    can_list: bool | None = None
    secrets_read: int = 0
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, object]:
        first = self.failures[0] if self.failures else None
        return {
            "name": self.name,
            "vault_url": self.vault_url,
            "ok": self.ok,
            "signed_in": self.signed_in,
            "can_list": self.can_list,
            "secrets_read": self.secrets_read,
            "code": first.code if first else None,
            "evidence": first.evidence if first else None,
            "fix": first.fix if first else None,
            "message": first.message if first else None,
            "failures": [f.to_json() for f in self.failures],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


def test_connection(
    *, out: Output, file: Path, credential: str | None, open_provider: OpenProvider | None = None
) -> int:
    """`open_provider` is a seam for tests; by default `baker.providers.open_provider`."""
    manifest = load_manifest(out, file)
    if credential is not None and credential not in manifest.credentials:
        known = ", ".join(manifest.credentials) or "none"
        raise UsageError(f"no credential {credential!r} in {file}", hint=f"the manifest defines: {known}")
    if credential is not None:
        manifest.require_credentials([credential])
    names = [credential] if credential is not None else list(manifest.credentials)
    if not names:
        raise UsageError(f"{file} defines no credentials", hint="add one under `credentials:`")
    opener = open_provider or _default_open
    results = [probe(manifest, name, opener) for name in names]
    for result in results:
        _print(out, result)
    ok = all(r.ok for r in results)
    out.result({"ok": ok, "credentials": [r.to_json() for r in results]})
    return EXIT_OK if ok else EXIT_FAILURE


# Not a test for pytest to collect, despite its name.
test_connection.__test__ = False  # type: ignore[attr-defined]


# A sign-in and a few probes per credential: a small connection pool is enough.
PROBE_WORKERS = 8


def _default_open(spec: CredentialSpec) -> Provider:
    return providers.open_provider(spec, workers=PROBE_WORKERS)


def probe(manifest: Manifest, name: str, opener: OpenProvider) -> CredentialResult:
    spec = manifest.credentials[name]
    # the vault as connected to: a non-ASCII host in its IDNA form, not the name it looks like
    result = CredentialResult(name=name, vault_url=urls.as_connected(spec.vault_url))
    try:
        manifest.require_credentials([name])
    except ManifestError as exc:
        result.failures.append(Failure(None, "; ".join(p.message for p in exc.problems), fix=exc.hint))
        return result
    try:
        provider = opener(spec)
    except ProviderError as exc:
        result.failures.append(Failure.of(exc))
        return result
    try:
        _exercise(manifest, name, provider, result)
    finally:
        provider.close()
    return result


def _exercise(manifest: Manifest, name: str, provider: Provider, result: CredentialResult) -> None:
    try:
        provider.sign_in()
    except ProviderError as exc:
        result.failures.append(Failure.of(exc))
        return
    result.signed_in = True
    listing_error: ProviderError | None = None
    try:
        next(iter(provider.list_secrets()), None)  # the first page proves it
        result.can_list = True
    except ProviderError as exc:
        result.can_list = False
        if exc.diagnosis not in _LISTING_REFUSED:
            result.failures.append(Failure.of(exc))
            return
        listing_error = exc
    wanted = sorted({(ref.name, ref.version) for _, ref in manifest.references if ref.credential == name})
    prefixes = [spec.prefix for spec in manifest.env_from if spec.credential == name]
    if listing_error is not None and prefixes:
        # env_from reads the vault's list: without it the bake fails, whatever else reads.
        result.failures.append(
            Failure(
                str(listing_error.diagnosis or Diagnosis.MISSING_ROLE),
                f"env_from (prefix {', '.join(prefixes)}) needs the vault's list: {listing_error.message}",
                listing_error.evidence,
                LIST_HINT,
                None,
            )
        )
        return
    if listing_error is not None and not wanted:
        result.failures.append(Failure.of(listing_error))
        return
    for secret, version in wanted:
        try:
            props = provider.get_properties(secret, version)
        except ProviderError as exc:
            result.failures.append(Failure.of(exc, secret))
            continue
        result.secrets_read += 1
        _judge(secret, version, props, result)
    if listing_error is not None and result.ok:
        result.notes.append(_LISTING_NOTE)


def _judge(secret: str, version: str | None, props: SecretProperties, result: CredentialResult) -> None:
    label = secret if version is None else f"{secret} (version {version[:8]}...)"
    if not props.enabled:
        result.failures.append(
            Failure(
                Diagnosis.SECRET_DISABLED.value,
                f"the secret {label} is disabled: a bake would fail",
                "enabled: false",
                fix_for(Diagnosis.SECRET_DISABLED),
                secret,
            )
        )
        return
    result.warnings.extend(lifetime_warnings(label, props))


def _print(out: Output, result: CredentialResult) -> None:
    out.info(f"credential {result.name} ({result.vault_url})")
    if result.signed_in:
        out.info("  ok    signed in")
    if result.can_list:
        out.info("  ok    can list secrets")
    if result.secrets_read:
        plural = "s" if result.secrets_read != 1 else ""
        out.info(f"  ok    read the metadata of {result.secrets_read} referenced secret{plural}")
    shown: set[str] = set()
    for failure in result.failures:
        code = f"[{failure.code}] " if failure.code else ""
        out.info(f"  FAIL  {code}{failure.message}")
        if failure.evidence:
            out.info(f"        evidence: {failure.evidence}")
        if failure.fix and failure.fix not in shown:  # one fix for several secrets is said once
            shown.add(failure.fix)
            out.info(f"        fix: {failure.fix}")
    for note in result.notes:
        out.info(f"  note  {note}")
    for warning in result.warnings:
        out.warn(f"{result.name}: {warning}")
    out.info("  => ok" if result.ok else "  => failed")

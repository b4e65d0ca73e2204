"""`env_from:`: the vault's list, filtered by prefix, made env entries.  Imports no SDK.

    list each (credential, prefix)'s vault once ──▶ names starting with the prefix (Key Vault names
    are case-insensitive: so is the match) ──▶ `EnvFrom.env_name` ──▶ `EnvEntry(prefix=...)`

- A disabled secret is skipped and named (`Expansion.skipped`): a bake cannot read it.  `check`
  keeps one the image holds (`keep=`), so it reports `disabled`, not `removed`.
- A name that is no env var name (empty, or starting with a digit once the prefix is dropped), or
  that an `env:` entry or another prefix's secret already gives, is a `ManifestError` naming both
  sources (exit 2): the manifest (or the vault) must change, a retry cannot help.
- Listing needs the list permission at vault scope: a per-secret role assignment reads its secrets
  but cannot list, and the `missing-role` refusal says so.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from baker.diagnose import Diagnosis
from baker.errors import ManifestError, Problem, ProviderError
from baker.fanout import fan_out
from baker.manifest.refs import NAME_RE
from baker.model import ENV_NAME_RE, EnvEntry, Manifest, SecretRef
from baker.output import untrusted
from baker.providers.base import SecretProperties
from baker.record import Record, replace

Listing = tuple[SecretProperties, ...]
LIST_HINT = (
    "env_from lists the vault: give the identity Key Vault Secrets User on the VAULT (a role on single "
    "secrets cannot list them): vault > Access control (IAM) > Add role assignment, or `az role "
    "assignment create --role 'Key Vault Secrets User' --assignee <client-id> --scope <vault-resource-id>`"
)


class Expansion(Record):
    manifest: Manifest  # env:, then each prefix's entries (sorted by env name)
    skipped: tuple[str, ...] = ()  # "app-x (disabled, env_from app-)"


def list_all(
    manifest: Manifest, lister: Callable[[str], Listing], *, workers: int
) -> dict[str, Listing | ProviderError]:
    """Each credential's listing that an `env_from:` needs, listed once, concurrently."""
    names = list(dict.fromkeys(e.credential for e in manifest.env_from))
    tasks = {name: _listing(lister, name) for name in names}
    return dict(fan_out(tasks, workers=workers, keep=ProviderError, name="baker-list"))


def _listing(lister: Callable[[str], Listing], credential: str) -> Callable[[], Listing]:
    def run() -> Listing:
        try:
            return lister(credential)
        except ProviderError as exc:
            if exc.diagnosis != Diagnosis.MISSING_ROLE:
                raise
            raise ProviderError(
                f"env_from: listing the vault of credential {credential!r} was refused: {exc.message}",
                diagnosis=exc.diagnosis,
                evidence=exc.evidence,
                credential=credential,
                hint=LIST_HINT,
            ) from None

    return run


def expand(manifest: Manifest, listings: Mapping[str, Listing], *, keep: Collection[str] = ()) -> Expansion:
    """`manifest` with each `env_from:` made entries from `listings` (credential -> every secret's
    current properties).  `keep`: env names kept even when disabled (an image holds them)."""
    if not manifest.env_from:
        return Expansion(manifest)
    problems: list[Problem] = []
    given: dict[str, str] = {
        e.name: f"env.{e.name}" + (f" (line {e.line})" if e.line else "") for e in manifest.env
    }
    added: list[EnvEntry] = []
    skipped: list[str] = []
    for index, spec in enumerate(manifest.env_from):
        where = f"env_from[{index}] (prefix {spec.prefix})"
        taken: list[EnvEntry] = []
        for props in sorted(listings.get(spec.credential, ()), key=lambda p: p.name.lower()):
            if not props.name.lower().startswith(spec.prefix.lower()):
                continue
            if not NAME_RE.fullmatch(props.name):  # not a name Key Vault gives: never asked for
                problems.append(
                    Problem(
                        manifest.path,
                        spec.line,
                        f"env_from[{index}]",
                        f"the vault listed {untrusted(props.name)!r}: not a secret name",
                    )
                )
                continue
            name = untrusted(props.name)
            env = spec.env_name(props.name)
            if not ENV_NAME_RE.fullmatch(env):
                problems.append(
                    Problem(
                        manifest.path,
                        spec.line,
                        f"env_from[{index}]",
                        f"the secret {name} gives {untrusted(env)!r}, which is not an env var name "
                        "(a letter or '_', then letters, digits or '_'): rename the secret or change "
                        "the prefix",
                    )
                )
                continue
            if not props.enabled and env not in keep:
                skipped.append(f"{name} (disabled; {where})")
                continue
            source = f"{where}'s secret {name}"
            if env in given:
                problems.append(
                    Problem(
                        manifest.path,
                        spec.line,
                        f"env_from[{index}]",
                        f"{source} gives {env}, which {given[env]} already sets: rename one, or "
                        "change the prefix",
                    )
                )
                continue
            given[env] = source
            ref = SecretRef(props.name, props.name, None, None, spec.credential)
            taken.append(EnvEntry(env, ref, spec.line, prefix=spec.prefix))
        added.extend(sorted(taken, key=lambda e: e.name))
    if problems:
        raise ManifestError(problems, hint="each env var must come from one source")
    expanded = replace(manifest, env=manifest.env + tuple(added))
    return Expansion(expanded, tuple(skipped))


def failed(listings: Mapping[str, Listing | ProviderError]) -> ProviderError | None:
    """The first listing that failed (a prefix set cannot be known without it)."""
    for outcome in listings.values():
        if isinstance(outcome, ProviderError):
            return outcome
    return None

"""Is a re-bake due?  The comparison of an image's provenance record with the manifest and with
Key Vault's current secret metadata, and `build --if-stale`'s decision from it.  Pure: no I/O, no
printing, no escaping (the names in a report come from the image's label; whoever prints them
escapes them).  `baker.check.gather` reads the inputs.

Statuses (the SPEC's), per env var, in order of precedence for one that is in both:
    changed   re-pointed: another credential, vault, secret, JSON key, pin, kind, or literal value
    deleted   the secret (or pinned version) is not in the vault any more (secret-not-found)
    disabled  the secret's current (or pinned) version is disabled
    expired   the current (or pinned) version's expiry date has passed
    rotated   Key Vault's current version differs from the baked one (never for pinned references)
    expiring  the version expires within `expiring_days` (default 14)
    pinned    a pinned reference, still served
    current   the baked version is Key Vault's current one
    literal   a literal, unchanged
plus `added` (in the manifest, not in the image) and `removed` (in the image, not in the manifest).

What counts as what (a choice made for a careful user):
- `stale` (exit 3, "re-bake now") is rotated, added, removed, changed: a re-bake fixes them.
- deleted, disabled, expired need a person before any re-bake can help (a re-bake of a deleted or
  disabled secret fails; an expired one bakes the same expired value again): they make `check`
  exit 1 ("attention"), after the full report, so a scheduled pipeline turns red.
- expiring is a warning: nothing to re-bake yet, but the rotation is coming.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from baker.check.lifetime import EXPIRING_DAYS, as_utc
from baker.diagnose import Diagnosis
from baker.errors import ProviderError, ReferenceFailure, ResolutionFailed
from baker.model import CertificateRef, FetchKey, LiteralValue, Manifest, Source, TemplateValue
from baker.provenance import BaseRecord, Origin, template_digest
from baker.providers.base import SecretProperties
from baker.record import Record, replace

if TYPE_CHECKING:  # a type only: record is read by gather, never by the comparison
    from baker.check.record import BakedImage

Status = Literal[
    "current",
    "rotated",
    "pinned",
    "literal",
    "disabled",
    "deleted",
    "expired",
    "expiring",
    "added",
    "removed",
    "changed",
]

REBAKE: frozenset[str] = frozenset({"rotated", "added", "removed", "changed"})
ATTENTION: frozenset[str] = frozenset({"deleted", "disabled", "expired"})


class CheckEntry(Record):
    env: str
    status: Status
    detail: str = ""
    credential: str | None = None
    secret: str | None = None
    baked_version: str | None = None
    current_version: str | None = None
    expires_on: datetime | None = None
    baked_state: str | None = None  # a rotated secret's baked version: disabled, expired or deleted

    def to_json(self) -> dict[str, object]:
        # A `files:` entry is named by its path, under "file" (it is no env var).
        out: dict[str, object] = {
            "file" if self.env.startswith("/") else "env": self.env,
            "status": self.status,
        }
        if self.detail:
            out["detail"] = self.detail
        for name in ("credential", "secret", "baked_version", "current_version", "baked_state"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.expires_on is not None:
            out["expires_on"] = self.expires_on.isoformat()
        return out


class CheckReport(Record):
    entries: tuple[CheckEntry, ...]

    @property
    def stale(self) -> bool:
        """A re-bake is due (and would help)."""
        return any(e.status in REBAKE for e in self.entries)

    @property
    def attention(self) -> tuple[CheckEntry, ...]:
        """Entries a person must fix in Key Vault (a re-bake alone cannot)."""
        return tuple(e for e in self.entries if e.status in ATTENTION)

    def to_json(self) -> dict[str, object]:
        return {"stale": self.stale, "entries": [e.to_json() for e in self.entries]}


def short(version: str | None) -> str:
    return "?" if not version else (version[:8] + "..." if len(version) > 8 else version)


def wanted(manifest: Manifest, baked: tuple[Origin, ...]) -> dict[FetchKey, Origin]:
    """The metadata `compare` needs: one fetch per distinct secret still pointed at as baked."""
    by_env = {e.name: e for e in manifest.items}
    keys: dict[FetchKey, Origin] = {}
    for origin in baked:
        entry = by_env.get(origin.env)
        if entry is None or _repointed(origin, entry.source, manifest):
            continue
        for part in origin.parts or (origin,):  # a template's parts, each read like a secret
            key = part.fetch_key
            if key is not None:
                keys.setdefault(key, part)
    return keys


def _repointed(origin: Origin, source: Source, manifest: Manifest) -> str | None:
    """Why `source` no longer points where `origin` did (None when it still does).  Literal values
    are compared elsewhere (against the image's Env)."""
    if isinstance(source, TemplateValue) or origin.kind == "template":
        return _template_repointed(origin, source, manifest)
    if isinstance(source, LiteralValue):
        return None if origin.kind == "literal" else "now a literal (was a secret)"
    form = source.format if isinstance(source, CertificateRef) else None
    source = source.ref if isinstance(source, CertificateRef) else source
    if origin.kind == "literal":
        return f"now the secret {source.written} (was a literal)"
    if origin.format != form:
        return f"certificate format {origin.format or '(a plain secret)'} -> {form or '(a plain secret)'}"
    if origin.credential != source.credential:
        return f"credential {origin.credential} -> {source.credential}"
    spec = manifest.credentials.get(source.credential)
    if (
        spec is not None
        and origin.vault_url is not None
        and origin.vault_url.rstrip("/") != spec.vault_url.rstrip("/")
    ):
        return f"vault {origin.vault_url} -> {spec.vault_url}"
    if (origin.secret or "").lower() != source.name.lower():
        return f"secret {origin.secret} -> {source.name}"
    if origin.key != source.key:
        return f"JSON key {origin.key!r} -> {source.key!r}"
    if origin.pinned != (source.version is not None):
        return f"pinned to {short(source.version)}" if source.version else "no longer pinned"
    if origin.pinned and (origin.version or "").lower() != (source.version or "").lower():
        return f"pin {short(origin.version)} -> {short(source.version)}"
    return None


def _template_repointed(origin: Origin, source: Source, manifest: Manifest) -> str | None:
    if not isinstance(source, TemplateValue):
        return "no longer a template"
    if origin.kind != "template":
        return "now a template"
    if origin.template != template_digest(source):
        return "the template's text or literal parts changed"
    baked = {part.env: part for part in origin.parts}
    if list(baked) != [name for name, _ in source.parts]:
        return "the template's parts changed"
    for name, part in source.parts:
        why = _repointed(baked[name], part, manifest)
        if why is not None:
            return f"part {name}: {why}"
    return None


# The order in which a template's worst part speaks for it (pinned only when every part is).
_PART_ORDER: tuple[Status, ...] = (
    "deleted",
    "disabled",
    "expired",
    "rotated",
    "expiring",
    "current",
    "pinned",
)


def _template(
    env: str,
    origin: Origin,
    current: Mapping[FetchKey, SecretProperties | ProviderError],
    moment: datetime,
    soon: datetime,
) -> CheckEntry | ProviderError:
    """A template's status: its worst part's (a rotated part makes the entry rotated)."""
    checked: list[CheckEntry] = []
    for part in origin.parts:
        key = part.fetch_key
        if key is None:
            continue
        one = _secret(part, current[key], moment, soon)
        if isinstance(one, ProviderError):
            return one
        checked.append(one)
    if not checked:
        return CheckEntry(env, "literal")
    worst = min(checked, key=lambda e: _PART_ORDER.index(e.status))
    if worst.status in ("current", "pinned") and len(checked) > 1:
        return replace(worst, env=env, detail=f"{len(checked)} parts, none rotated")
    return replace(worst, env=env, detail=f"part {worst.env}: {worst.detail}")


def compare(
    manifest: Manifest,
    baked: tuple[Origin, ...],
    current: Mapping[FetchKey, SecretProperties | ProviderError],
    baked_env: Mapping[str, str] | None,
    *,
    now: datetime | None = None,
    expiring_days: int = EXPIRING_DAYS,  # one threshold for check, test-connection, render, build
) -> CheckReport:
    """One entry per env var: the manifest's, in its order, then those only the image has.

    `current` maps each `wanted` fetch key to its metadata, or to the ProviderError its fetch
    raised; secret-not-found and secret-disabled become statuses, any other error is raised (the
    check cannot say anything true about that secret).  `baked_env` is the image's Env; without
    it a literal's value cannot be compared and unchanged literals report `literal`.
    """
    moment = now or datetime.now(timezone.utc)
    soon = moment + timedelta(days=expiring_days)
    by_env = {o.env: o for o in baked}
    entries: list[CheckEntry] = []
    failures: list[ReferenceFailure] = []
    for entry in manifest.items:
        origin = by_env.get(entry.name)
        source = entry.source
        if origin is None:
            entries.append(CheckEntry(entry.name, "added", "in the manifest, not in the image"))
            continue
        why = _repointed(origin, source, manifest)
        if why is not None:
            entries.append(
                CheckEntry(entry.name, "changed", why, origin.credential, origin.secret, origin.version)
            )
        elif isinstance(source, LiteralValue):
            # A file's content is in a layer, not in Env: its record holds the literal's text.
            texts = {entry.name: origin.text} if origin.text is not None else None
            entries.append(_literal(entry.name, source, texts if entry.name.startswith("/") else baked_env))
        elif origin.kind == "template":
            checked = _template(entry.name, origin, current, moment, soon)
            if isinstance(checked, ProviderError):
                failures.append(ReferenceFailure(entry.name, checked))
            else:
                entries.append(checked)
        else:
            key = origin.fetch_key
            assert key is not None  # a secret origin that still points as the manifest does
            checked = _secret(origin, current[key], moment, soon)
            if isinstance(checked, ProviderError):
                failures.append(ReferenceFailure(entry.name, checked))
            else:
                entries.append(checked)
    in_manifest = {e.name for e in manifest.items}
    for origin in baked:
        if origin.env not in in_manifest:
            entries.append(
                CheckEntry(
                    origin.env,
                    "removed",
                    "in the image, not in the manifest",
                    origin.credential,
                    origin.secret,
                )
            )
    if failures:
        raise ResolutionFailed(failures)
    return CheckReport(tuple(entries))


def _literal(env: str, source: LiteralValue, baked_env: Mapping[str, str] | None) -> CheckEntry:
    # The values are compared, never shown: a literal may be someone's idea of harmless.
    if baked_env is not None and baked_env.get(env) != source.value:
        return CheckEntry(env, "changed", "the literal value differs from the image's")
    return CheckEntry(env, "literal")


def _secret(
    origin: Origin, answer: SecretProperties | ProviderError, moment: datetime, soon: datetime
) -> CheckEntry | ProviderError:
    def entry(status: Status, detail: str, props: SecretProperties | None = None) -> CheckEntry:
        return CheckEntry(
            origin.env,
            status,
            detail,
            credential=origin.credential,
            secret=origin.secret,
            baked_version=origin.version,
            current_version=props.version if props is not None else None,
            expires_on=props.expires_on if props is not None else None,
        )

    if isinstance(answer, ProviderError):
        if answer.diagnosis == Diagnosis.SECRET_NOT_FOUND:
            return entry(
                "deleted", "the pinned version is gone" if origin.pinned else "no longer in the vault"
            )
        if answer.diagnosis == Diagnosis.SECRET_DISABLED:
            return entry("disabled", "disabled in the vault")
        return answer
    expires = as_utc(answer.expires_on)
    if not answer.enabled:
        return entry("disabled", "disabled in the vault", answer)
    if expires is not None and expires <= moment:
        return entry("expired", f"expired {expires:%Y-%m-%d}", answer)
    if not origin.pinned and answer.version and (origin.version or "").lower() != answer.version.lower():
        return entry("rotated", f"v {short(origin.version)} -> {short(answer.version)}", answer)
    if expires is not None and expires <= soon:
        return entry("expiring", f"expires {expires:%Y-%m-%d}", answer)
    return entry("pinned" if origin.pinned else "current", f"v {short(origin.version)}", answer)


# --- build --if-stale's decision ------------------------------------------------------------------


class RebakeDecision(Record):
    """`build --if-stale`'s answer for one image, for one manifest or each of many: whether to bake
    again, why, and the warnings to print first.  Plain text: the names and details in it come
    from the image's label, and the printer escapes them (`baker.commands._common`)."""

    due: bool
    reason: str
    warnings: tuple[str, ...] = ()
    base: BaseRecord | None = None  # the base the image records: a re-bake goes onto it
    recorded: bool = False  # the image carries a record (then `base` None: baked before bases were recorded)


def due_from(report: CheckReport, record: BakedImage | None = None) -> RebakeDecision:
    """The decision a report makes.  A deleted or disabled secret is due: the bake then fails and
    names the secret with its fix, which is what a scheduled pipeline must show; an expired one only
    warns (a re-bake would bake the same expired value)."""
    warnings = [f"{item.env}: {item.status} ({item.detail})" for item in report.attention]
    warnings += [f"{item.env}: {item.detail}" for item in report.entries if item.status == "expiring"]
    due = [e for e in report.entries if e.status in REBAKE or e.status in {"deleted", "disabled"}]
    base = record.base if record is not None else None
    if due:
        reason = "; ".join(f"{e.env} {e.status}" for e in due)
        return RebakeDecision(True, reason, tuple(warnings), base, record is not None)
    expired = [e.env for e in report.entries if e.status == "expired"]
    if expired:
        # A re-bake would bake the same expired value: a person must rotate it in Key Vault first.
        return RebakeDecision(
            False,
            f"nothing a re-bake would change; rotate the expired secret of {', '.join(expired)} first",
            tuple(warnings),
        )
    return RebakeDecision(
        False, "every baked secret version is current and the manifest is unchanged", tuple(warnings)
    )

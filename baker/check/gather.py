"""The current state of one manifest's image or many (`check`, `check -f A -f B`, `build --if-stale`):
`check_all` for many, and `evaluate` / `rebake_due` for one, which run through it, so one manifest
and many make the same reads.

    manifests ─▶ each image's record (engine or registry), concurrently
              ─▶ the metadata they need, each distinct (sign-in, vault, secret, version) read once
                 for the whole run: the current version (`GET /secrets/NAME`), then, for a secret
                 whose current version is not the baked one, the baked version's attributes
                 (`GET /secrets/NAME/VERSION`: disabled? expired? deleted?), so at most two
                 requests per secret whatever its history
              ─▶ `baker.check.compare` per manifest

One sign-in per identity (`baker.providers.signin`); each step fans out on `baker.fanout` within
the resolver's bound.
A manifest that cannot be checked (no image, no record, a secret that failed) is reported with its
error; the others are still checked.  Imports no SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime, timezone

from baker import envfrom, fanout
from baker.check.compare import CheckEntry, CheckReport, RebakeDecision, compare, due_from, wanted
from baker.check.lifetime import as_utc
from baker.check.record import BakedImage, read_baked
from baker.diagnose import Diagnosis
from baker.errors import BakerError, ImageNotFound, NoRecord, ProviderError, UsageError
from baker.model import FetchKey, Manifest
from baker.provenance import Origin
from baker.providers import DEFAULT_WORKERS
from baker.providers.base import OpenProvider, SecretProperties
from baker.providers.signin import SignIns
from baker.record import Record, replace

MAX_WORKERS = DEFAULT_WORKERS  # the resolver's bound

Answer = SecretProperties | ProviderError


def image_of(manifest: Manifest) -> str:
    """The image a manifest's check reads: its (first) `image.tag`."""
    if not manifest.image.tags:
        raise UsageError(
            f"{manifest.path}: no image.tag to check",
            hint="set image.tag in each manifest, or check one manifest with --image REF",
        )
    return manifest.image.tags[0]


class Checked(Record):
    """One manifest's outcome: its record and report, or the error that stopped its check."""

    manifest: Manifest
    image: str
    record: BakedImage | None = None
    report: CheckReport | None = None
    error: BakerError | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "file": self.manifest.path,
            "image": self.image,
            "stale": bool(self.report and self.report.stale),
            "entries": [e.to_json() for e in self.report.entries] if self.report else [],
        }
        if self.error is not None:
            out["error"] = self.error.to_json()
        return out


def check_all(
    items: Sequence[tuple[Manifest, str]],
    *,
    open_provider: OpenProvider | None = None,
    records: Sequence[BakedImage | None] | None = None,
    registry_only: bool = False,
    max_workers: int = MAX_WORKERS,
    now: datetime | None = None,
) -> list[Checked]:
    """Check each (manifest, image); `records` (a test seam) stands for reading the images."""
    given = list(records) if records is not None else [None] * len(items)
    signins = SignIns(open_provider=open_provider, max_workers=max_workers)
    try:
        read = fanout.each(
            list(zip(items, given, strict=True)),
            lambda item: (
                item[1] if item[1] is not None else read_baked(item[0][1], registry_only=registry_only)
            ),
            workers=max_workers,
            keep=BakerError,
            name="baker-check",
        )
        plans: list[dict[FetchKey, tuple[Hashable, Origin]] | BakerError] = []
        # `env_from:` lists its vaults: the manifest compared is the expanded one (added/removed).
        expanded = [
            _expanded(manifest, record, signins, max_workers)
            if not isinstance(record, BakerError)
            else manifest
            for (manifest, _), record in zip(items, read, strict=True)
        ]
        for full, record in zip(expanded, read, strict=True):
            if isinstance(record, BakerError) or isinstance(full, BakerError):
                plans.append(record if isinstance(record, BakerError) else full)  # type: ignore[arg-type]
            else:
                plans.append(_plan(full, record, signins))
        current = _read(
            max_workers,
            signins,
            items,
            plans,
            lambda where, origin: origin.version if origin.pinned else None,
        )
        baked = _read(
            max_workers, signins, items, plans, lambda where, origin: _baked_version(where, origin, current)
        )
        return [
            _checked(
                manifest,
                full if isinstance(full, Manifest) else manifest,
                image,
                record,
                plan,
                current,
                baked,
                now,
            )
            for (manifest, image), full, record, plan in zip(items, expanded, read, plans, strict=True)
        ]
    finally:
        signins.close()


def _expanded(
    manifest: Manifest, record: BakedImage, signins: SignIns, workers: int
) -> Manifest | BakerError:
    """`manifest` with its `env_from:` listed (`baker.envfrom`); a disabled secret the image holds is
    kept, so it reports `disabled` rather than `removed`."""
    if not manifest.env_from:
        return manifest

    def lister(name: str) -> envfrom.Listing:
        provider = signins.provider(manifest.credentials[name])
        if isinstance(provider, ProviderError):
            raise provider
        return tuple(provider.list_secrets())

    try:
        manifest.require_credentials(e.credential for e in manifest.env_from)
        listings = envfrom.list_all(manifest, lister, workers=workers)
        failure = envfrom.failed(listings)
        if failure is not None:
            return failure
        keep = {o.env for o in record.origins if o.prefix is not None}
        listed = {name: got for name, got in listings.items() if not isinstance(got, ProviderError)}
        return envfrom.expand(manifest, listed, keep=keep).manifest
    except BakerError as exc:
        return exc


def _plan(
    manifest: Manifest, record: BakedImage, signins: SignIns
) -> dict[FetchKey, tuple[Hashable, Origin]] | BakerError:
    """Per fetch key `compare` needs: where it is read (sign-in and vault), and a baked origin."""
    keys = wanted(manifest, record.origins)
    try:
        manifest.require_credentials(sorted({key[0] for key in keys}))
    except BakerError as exc:
        return exc
    return {key: (signins.key(manifest.credentials[key[0]]), origin) for key, origin in keys.items()}


ReadKey = tuple[Hashable, str, "str | None"]  # (sign-in and vault, secret lower-cased, version)


def _read(
    workers: int,
    signins: SignIns,
    items: Sequence[tuple[Manifest, str]],
    plans: Sequence[dict[FetchKey, tuple[Hashable, Origin]] | BakerError],
    version_of: Callable[[Hashable, Origin], str | bool | None],
) -> dict[ReadKey, Answer]:
    """One read per distinct (sign-in and vault, secret, version) over every manifest.
    `version_of` False: nothing to read for that origin."""
    todo: dict[ReadKey, tuple[Manifest, Origin]] = {}
    for (manifest, _), plan in zip(items, plans, strict=True):
        if isinstance(plan, BakerError):
            continue
        for where, origin in plan.values():
            version = version_of(where, origin)
            if version is not False and version is not True:
                todo.setdefault((where, (origin.secret or "").lower(), version), (manifest, origin))

    def one(item: tuple[ReadKey, tuple[Manifest, Origin]]) -> Answer:
        (_, _, version), (manifest, origin) = item
        assert origin.credential is not None
        provider = signins.provider(manifest.credentials[origin.credential])
        if isinstance(provider, ProviderError):
            return provider
        try:
            return provider.get_attributes(origin.secret or "", version)
        except ProviderError as exc:
            return exc

    answers = fanout.each(list(todo.items()), one, workers=workers, keep=BakerError, name="baker-check")
    return {key: _as_answer(answer) for key, answer in zip(todo, answers, strict=True)}


def _as_answer(answer: Answer | BakerError) -> Answer:
    if isinstance(answer, (SecretProperties, ProviderError)):
        return answer
    return ProviderError(answer.message, diagnosis=Diagnosis.AZURE_ERROR, hint=answer.hint)


def _baked_version(where: Hashable, origin: Origin, current: Mapping[ReadKey, Answer]) -> str | bool:
    """The baked version to describe: an unpinned secret whose current version is another one."""
    if origin.pinned or not origin.version:
        return False
    answer = current.get((where, (origin.secret or "").lower(), None))
    if isinstance(answer, SecretProperties) and answer.version:
        return origin.version if answer.version.lower() != origin.version.lower() else False
    return False


def _checked(
    manifest: Manifest,
    full: Manifest,  # `manifest` with its `env_from:` made entries
    image: str,
    record: BakedImage | BakerError,
    plan: dict[FetchKey, tuple[Hashable, Origin]] | BakerError,
    current: Mapping[ReadKey, Answer],
    baked: Mapping[ReadKey, Answer],
    now: datetime | None,
) -> Checked:
    if isinstance(record, BakerError):
        return Checked(manifest, image, error=record)
    if isinstance(plan, BakerError):
        return Checked(manifest, image, record=record, error=plan)
    answers = {key: current[(where, key[1], key[2])] for key, (where, _) in plan.items()}
    try:
        report = compare(full, record.origins, answers, record.env, now=now)
    except BakerError as exc:
        return Checked(manifest, image, record=record, error=exc)
    wheres = {(key[0], key[1]): where for key, (where, _) in plan.items()}
    moment = now or datetime.now(timezone.utc)
    entries = tuple(_with_baked_state(entry, wheres, baked, moment) for entry in report.entries)
    return Checked(manifest, image, record=record, report=CheckReport(entries))


def _with_baked_state(
    entry: CheckEntry,
    wheres: Mapping[tuple[str, str], Hashable],
    baked: Mapping[ReadKey, Answer],
    moment: datetime,
) -> CheckEntry:
    """A rotated entry says when the version it still holds is disabled, expired or gone."""
    if entry.status != "rotated" or not entry.secret or not entry.baked_version:
        return entry
    secret = entry.secret.lower()
    answer = baked.get((wheres.get((entry.credential or "", secret)), secret, entry.baked_version))
    state = _state(answer, moment)
    if state is None:
        return entry
    return replace(entry, detail=f"{entry.detail} (the baked version is {state})", baked_state=state)


def _state(answer: Answer | None, moment: datetime) -> str | None:
    if isinstance(answer, ProviderError):
        if answer.diagnosis == Diagnosis.SECRET_NOT_FOUND:
            return "deleted"
        return "disabled" if answer.diagnosis == Diagnosis.SECRET_DISABLED else None
    if answer is None:
        return None
    if not answer.enabled:
        return "disabled"
    expires = as_utc(answer.expires_on)
    return "expired" if expires is not None and expires <= moment else None


# --- one manifest ---------------------------------------------------------------------------------


def evaluate(
    manifest: Manifest,
    image: str,
    *,
    open_provider: OpenProvider | None = None,
    baked: BakedImage | None = None,
    registry_only: bool = False,
) -> tuple[BakedImage, CheckReport]:
    """Read `image`'s record, ask Key Vault for the metadata it needs, and compare: `check_all` for
    one manifest.  `baked` (a test seam) stands for reading the image."""
    [checked] = check_all(
        [(manifest, image)], open_provider=open_provider, records=[baked], registry_only=registry_only
    )
    if checked.error is not None:
        raise checked.error
    assert checked.record is not None and checked.report is not None
    return checked.record, checked.report


def rebake_due(manifest: Manifest, image: str, *, registry_only: bool = False) -> RebakeDecision:
    """For `baker build --if-stale`: due when `image` must be baked again (`compare.due_from`).
    Prints nothing: the warnings come back for the command to print.  A missing image, or one
    without a record, is due."""
    try:
        record, report = evaluate(manifest, image, registry_only=registry_only)
    except (ImageNotFound, NoRecord) as exc:
        return RebakeDecision(True, exc.message)
    return due_from(report, record)


def decide_all(items: Sequence[tuple[Manifest, str]], *, registry_only: bool = False) -> list[RebakeDecision]:
    """`rebake_due` for many (`build --if-stale -f A -f B`), checked all at once.  A check that failed
    is due too: the bake then names the failure, as `build --if-stale` does for one manifest."""
    decisions: list[RebakeDecision] = []
    for result in check_all(items, registry_only=registry_only):
        if result.report is not None:
            decisions.append(due_from(result.report, result.record))
        elif isinstance(result.error, (ImageNotFound, NoRecord)):
            decisions.append(RebakeDecision(True, result.error.message))
        else:
            decisions.append(RebakeDecision(True, "the check failed"))
    return decisions

"""Manifest -> resolved values: one fetch per distinct secret, fetched concurrently, every failure
collected.  Imports no SDK: providers come from `baker.providers.open_provider`, or are injected.

- References sharing a `SecretRef.fetch_key` (credential, name, version) share one GET: a repeated
  reference, and every `#key` into the same secret.
- Distinct fetches run on one bounded thread pool; each provider sizes its connection pool to the
  same bound.
- Every reference is tried; `ResolutionFailed` names every env var that failed (a failed fetch
  fails each env var that shares it).
- Every value (literals too) becomes a `Secret`, registered with `REDACTOR` under its env name.
- Ctrl-C cancels the fetches not yet started and re-raises at once.
- `env_from:` first lists each vault it names (`baker.envfrom`): the expanded manifest's entries
  then resolve like any other; the disabled secrets skipped are `ResolvedEnv.warnings`.
- Each value is made by `baker.compose` (JSON keys, certificates, templates).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from baker import envfrom
from baker.check.lifetime import lifetime_warnings
from baker.compose import compose
from baker.diagnose import Diagnosis
from baker.errors import ProviderError, ReferenceFailure, ResolutionFailed
from baker.fanout import fan_out
from baker.model import EnvEntry, FetchKey, FileEntry, Manifest, SecretRef, Source, from_vault
from baker.providers import DEFAULT_WORKERS, open_provider
from baker.providers.base import FetchedSecret, Provider, SecretProperties
from baker.record import Record
from baker.secret import REDACTOR, Secret


class Resolved(Record):
    env: str
    value: Secret
    source: Source
    version: str | None  # the version actually read (None for literals and templates)
    properties: SecretProperties | None
    parts: tuple[tuple[str, SecretProperties | None], ...] = ()  # a template's parts, as read
    prefix: str | None = None  # taken by `env_from:` with this prefix


class ResolvedEnv(Record):
    entries: tuple[Resolved, ...]  # manifest order, then each `env_from:`'s entries
    # `image.build.secrets`, `Resolved.env` holding the id: for BuildKit's secret mounts, never baked
    build_secrets: tuple[Resolved, ...] = ()
    warnings: tuple[str, ...] = ()  # names skipped by `env_from:` (disabled secrets)
    # The `files:` entries, manifest order, each named (`Resolved.env`) by its path: values baked
    # as files (in one added layer), never into Env.
    files: tuple[Resolved, ...] = ()

    def build_args(self) -> dict[str, str]:
        """env -> value, revealed: for the engine call and the env layer only."""
        return {entry.env: entry.value.reveal() for entry in self.entries}


def _ignore(_: str) -> None:
    return None


def resolve(
    manifest: Manifest, *, providers: Mapping[str, Provider] | None = None, max_workers: int = DEFAULT_WORKERS
) -> ResolvedEnv:
    manifest.require_credentials(manifest.used_credentials)
    opened: dict[str, Provider] = {}
    open_failures: dict[str, ProviderError] = {}
    if providers is None:
        for name in manifest.used_credentials:
            try:
                opened[name] = open_provider(manifest.credentials[name], workers=max_workers)
            except ProviderError as exc:
                open_failures[name] = exc
        providers = opened
    try:
        expansion = _expand(manifest, providers, open_failures, max_workers)
        fetched = _fetch_all(expansion.manifest, providers, open_failures, max_workers)
    finally:
        for provider in opened.values():
            provider.close()
    resolved = _assemble(expansion.manifest, fetched)
    skipped = tuple(f"env_from skipped {name}" for name in expansion.skipped)
    return ResolvedEnv(resolved.entries, resolved.build_secrets, skipped, resolved.files)


def _expand(
    manifest: Manifest,
    providers: Mapping[str, Provider],
    open_failures: Mapping[str, ProviderError],
    max_workers: int,
) -> envfrom.Expansion:
    """`manifest` with its `env_from:` listed and made entries (a failed listing fails the bake)."""
    if not manifest.env_from:
        return envfrom.Expansion(manifest)

    def lister(credential: str) -> envfrom.Listing:
        if credential in open_failures:
            raise open_failures[credential]
        return tuple(providers[credential].list_secrets())

    listings = envfrom.list_all(manifest, lister, workers=max_workers)
    failures = [
        ReferenceFailure(f"env_from[{i}] ({spec.prefix})", outcome)
        for i, spec in enumerate(manifest.env_from)
        if isinstance(outcome := listings[spec.credential], ProviderError)
    ]
    if failures:
        raise ResolutionFailed(failures)
    return envfrom.expand(manifest, {k: v for k, v in listings.items() if not isinstance(v, ProviderError)})


def resolve_warned(
    manifest: Manifest,
    *,
    on_warning: Callable[[str], None] = _ignore,
    providers: Mapping[str, Provider] | None = None,
) -> ResolvedEnv:
    """`resolver.resolve`, then a warning for each value too short to mask in output, and for each
    secret version that expired, expires soon or is not yet valid."""
    resolved = resolve(manifest, providers=providers)
    for label in REDACTOR.short_labels:
        on_warning(f"{label}: the value is too short to mask in output; keep it out of logs yourself")
    for warning in resolved.warnings:  # env_from's skipped (disabled) secrets: names, never values
        on_warning(warning)
    seen: set[tuple[str | None, str | None]] = set()
    for entry in (*resolved.entries, *resolved.build_secrets):
        for props in (entry.properties, *(p for _, p in entry.parts)):
            if props is None or (props.name, props.version) in seen:
                continue
            seen.add((props.name, props.version))
            for warning in lifetime_warnings(props.name, props):
                on_warning(f"{entry.env}: {warning}")
    return resolved


def _fetch_all(
    manifest: Manifest,
    providers: Mapping[str, Provider],
    open_failures: Mapping[str, ProviderError],
    max_workers: int,
) -> dict[FetchKey, FetchedSecret | ProviderError]:
    """One fetch per distinct key; each outcome is the secret or the error."""
    refs: dict[FetchKey, SecretRef] = {}
    for _, ref in (*manifest.references, *manifest.build_secrets):
        refs.setdefault(ref.fetch_key, ref)
    outcomes: dict[FetchKey, FetchedSecret | ProviderError] = {}
    tasks: dict[FetchKey, Callable[[], FetchedSecret]] = {}
    for key, ref in refs.items():
        if ref.credential in open_failures:
            outcomes[key] = open_failures[ref.credential]
        elif ref.credential not in providers:
            outcomes[key] = ProviderError(
                f"no provider for credential {ref.credential!r}",
                diagnosis=Diagnosis.NO_CREDENTIAL,
                credential=ref.credential,
                secret=ref.name,
            )
        else:
            tasks[key] = functools.partial(providers[ref.credential].get_secret, ref.name, ref.version)
    # A bug, or KeyboardInterrupt raised in a worker, is raised: not a reference failure.
    outcomes.update(fan_out(tasks, workers=max_workers, keep=ProviderError, name="baker-fetch"))
    return outcomes


def _assemble(manifest: Manifest, fetched: Mapping[FetchKey, FetchedSecret | ProviderError]) -> ResolvedEnv:
    env: list[Resolved] = []
    files: list[Resolved] = []
    failures: list[ReferenceFailure] = []
    for entry in manifest.items:
        entries = files if isinstance(entry, FileEntry) else env
        source = entry.source
        try:
            made = compose(source, fetched)
        except ProviderError as exc:
            failures.append(ReferenceFailure(entry.name, exc))
            continue
        # A literal is written in the manifest, which lives in git: not a secret, so it is not
        # registered (masking `info` or `8080` in every line would only hide useful output).
        if from_vault(source):
            REDACTOR.register(made.value, label=entry.name)
        props = made.properties
        version = props.version if props is not None else None
        prefix = entry.prefix if isinstance(entry, EnvEntry) else None
        entries.append(Resolved(entry.name, made.value, source, version, props, made.parts, prefix))
    build_secrets: list[Resolved] = []
    for secret_id, ref in manifest.build_secrets:
        name = f"image.build.secrets.{secret_id}"
        try:
            made = compose(ref, fetched)
        except ProviderError as exc:
            failures.append(ReferenceFailure(name, exc))
            continue
        REDACTOR.register(made.value, label=name)
        props = made.properties
        version = props.version if props is not None else None
        build_secrets.append(Resolved(secret_id, made.value, ref, version, props))
    if failures:
        raise ResolutionFailed(failures)
    return ResolvedEnv(tuple(env), tuple(build_secrets), files=tuple(files))

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
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from baker.diagnose import Diagnosis
from baker.errors import ProviderError, ReferenceFailure, ResolutionFailed
from baker.fanout import fan_out
from baker.manifest.refs import extract_json_key
from baker.model import FetchKey, FileEntry, LiteralValue, Manifest, SecretRef, Source
from baker.providers import DEFAULT_WORKERS, open_provider
from baker.providers.base import FetchedSecret, Provider, SecretProperties
from baker.secret import REDACTOR, Secret


@dataclass(frozen=True)
class Resolved:
    env: str
    value: Secret
    source: Source
    version: str | None  # the version actually read (None for literals)
    properties: SecretProperties | None


@dataclass(frozen=True)
class ResolvedEnv:
    entries: tuple[Resolved, ...]  # the env vars, manifest order
    # The `files:` entries, manifest order, each named (`Resolved.env`) by its path: values baked
    # as files (in one added layer), never into Env.
    files: tuple[Resolved, ...] = ()

    def build_args(self) -> dict[str, str]:
        """env -> value, revealed: for the engine call and the env layer only."""
        return {entry.env: entry.value.reveal() for entry in self.entries}


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
        fetched = _fetch_all(manifest, providers, open_failures, max_workers)
    finally:
        for provider in opened.values():
            provider.close()
    return _assemble(manifest, fetched)


def _fetch_all(
    manifest: Manifest,
    providers: Mapping[str, Provider],
    open_failures: Mapping[str, ProviderError],
    max_workers: int,
) -> dict[FetchKey, FetchedSecret | ProviderError]:
    """One fetch per distinct key; each outcome is the secret or the error."""
    refs: dict[FetchKey, SecretRef] = {}
    for _, ref in manifest.references:
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
        if isinstance(source, LiteralValue):
            # A literal is written in the manifest, which lives in git: not a secret, so it is not
            # registered (masking `info` or `8080` in every line would only hide useful output).
            value = Secret(source.value)
            entries.append(Resolved(entry.name, value, source, None, None))
            continue
        outcome = fetched[source.fetch_key]
        if isinstance(outcome, ProviderError):
            failures.append(ReferenceFailure(entry.name, outcome))
            continue
        try:
            value = _pick(outcome, source)
        except ProviderError as exc:
            failures.append(ReferenceFailure(entry.name, exc))
            continue
        REDACTOR.register(value, label=entry.name)
        entries.append(Resolved(entry.name, value, source, outcome.properties.version, outcome.properties))
    if failures:
        raise ResolutionFailed(failures)
    return ResolvedEnv(tuple(env), tuple(files))


def _pick(fetched: FetchedSecret, ref: SecretRef) -> Secret:
    if ref.key is None:
        return fetched.value
    try:
        return extract_json_key(fetched.value, ref.key)
    except ValueError as exc:  # errors.JsonKeyError: its message never holds the value
        version = f" (version {fetched.properties.version})" if fetched.properties.version else ""
        raise ProviderError(
            f"secret {ref.name!r}{version}: {REDACTOR.redact(str(exc))}",
            diagnosis=Diagnosis.JSON_KEY_NOT_FOUND,
            evidence=f"#{ref.key}",
            credential=ref.credential,
            secret=ref.name,
        ) from None

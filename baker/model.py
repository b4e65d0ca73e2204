"""The manifest as typed, frozen values.  `baker.manifest` builds them from YAML; nothing downstream
ever sees a raw dict.  This module imports neither azure nor docker.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from baker.errors import Diagnosis, ManifestError, Problem
from baker.keyless import AuthSpec
from baker.secret import Secret


@dataclass(frozen=True)
class CredentialSpec:
    """One credential block, after `${VAR}` interpolation and the AZURE_* fallbacks.

    A field whose variable is unset holds None and the variable's name is in `unset_vars`; using
    such a credential is an error naming it (`Manifest.require_credentials`).
    """

    name: str
    provider: str
    vault_url: str
    tenant_id: str | None
    client_id: str | None
    client_secret: Secret | None
    is_default: bool
    line: int | None
    # Where Entra lives (sovereign clouds, Azure Stack, the local emulator): the manifest's
    # `authority_host`, else AZURE_AUTHORITY_HOST, else None (the public cloud).
    authority_host: str | None = None
    unset_vars: tuple[str, ...] = ()
    # `auth:` (client-secret unless written) and, for keyless kinds, where the token comes from.
    auth: AuthSpec = field(default_factory=AuthSpec)


@dataclass(frozen=True)
class LiteralValue:
    """A value written in the manifest itself."""

    value: str


FetchKey = tuple[str, str, "str | None"]
"""(credential, secret name lower-cased, version): what one GET fetches."""


@dataclass(frozen=True)
class SecretRef:
    """A reference to a Key Vault secret, parsed and normalised (see `baker.refs`).

    `name` is the Azure name (every `_` turned into `-`); `written` is the reference as written.
    `key` is the JSON key after the first `#`, verbatim.  `credential` is the credential chosen
    (the named one or the default).
    """

    written: str
    name: str
    key: str | None
    version: str | None
    credential: str

    @property
    def fetch_key(self) -> FetchKey:
        """What one GET fetches: references sharing it are fetched once."""
        return (self.credential, self.name.lower(), self.version)


Source = LiteralValue | SecretRef


@dataclass(frozen=True)
class EnvEntry:
    name: str
    source: Source
    line: int | None = None


@dataclass(frozen=True)
class BuildSpec:
    """`image.build`: the app image baker builds first (the docker build wrapper)."""

    context: str
    dockerfile: str = "Dockerfile"
    target: str | None = None
    args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ImageSpec:
    base: str | None  # `image.from`
    build: BuildSpec | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    path: str
    image: ImageSpec
    credentials: Mapping[str, CredentialSpec]
    env: tuple[EnvEntry, ...]
    warnings: tuple[str, ...] = ()

    @property
    def references(self) -> tuple[tuple[str, SecretRef], ...]:
        return tuple((e.name, e.source) for e in self.env if isinstance(e.source, SecretRef))

    @property
    def default_credential(self) -> str | None:
        defaults = [c.name for c in self.credentials.values() if c.is_default]
        return defaults[0] if len(defaults) == 1 else None

    @property
    def used_credentials(self) -> tuple[str, ...]:
        """Credentials some env var resolves through, in manifest order."""
        used = {ref.credential for _, ref in self.references}
        return tuple(name for name in self.credentials if name in used)

    def require_credentials(self, names: Iterable[str]) -> None:
        """Raise `ManifestError` when a credential about to be used is unknown, or has an unset
        `${NAME}` / AZURE_* variable (load() only warned about those while nothing used it).  The
        one offline check before signing in, for `resolve`, `check`, `test-connection`, `secrets`."""
        problems = []
        for name in dict.fromkeys(names):
            cred = self.credentials.get(name)
            if cred is None:
                close = difflib.get_close_matches(name, list(self.credentials), n=1, cutoff=0.6)
                known = ", ".join(self.credentials) or "none"
                hint = f"did you mean {close[0]!r}?" if close else f"the manifest defines: {known}"
                problems.append(
                    Problem(self.path, None, f"credentials.{name}", f"no such credential; {hint}")
                )
            elif cred.unset_vars:
                plural = "s" if len(cred.unset_vars) > 1 else ""
                users = [env for env, ref in self.references if ref.credential == name]
                used_by = f" (used by {', '.join(users)})" if users else ""
                problems.append(
                    Problem(
                        self.path,
                        cred.line,
                        f"credentials.{name}",
                        f"environment variable{plural} {', '.join(cred.unset_vars)} not set; "
                        f"credential {name!r}{used_by} needs {'them' if plural else 'it'}",
                    )
                )
            if cred is not None and cred.auth.missing:
                problems.append(
                    Problem(
                        self.path,
                        cred.line,
                        f"credentials.{name}",
                        f"{cred.auth.missing} (no-federated-token)",
                        code=Diagnosis.NO_FEDERATED_TOKEN,
                    )
                )
        if problems:
            hint = "Export the variables (in CI: map the pipeline's secret variables)."
            if all(p.code == Diagnosis.NO_FEDERATED_TOKEN for p in problems):
                from baker.diagnose import fix_for

                hint = fix_for(Diagnosis.NO_FEDERATED_TOKEN)
            raise ManifestError(problems, hint=hint)

"""The manifest as typed, frozen values.  `baker.manifest.checks` builds them from YAML; nothing downstream
ever sees a raw dict.  This module imports neither azure nor docker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from baker.diagnose import Diagnosis, fix_for
from baker.errors import ManifestError, Problem
from baker.record import Record, field
from baker.secret import Secret
from baker.suggest import did_you_mean

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""The SPEC's env var names: a letter or underscore, then letters, digits, underscores."""

# A credential's `auth:` kinds (keyless sign-in: `baker.manifest.auth` reads them, the Azure
# provider's `keyless` builds their credentials).
CLIENT_SECRET = "client-secret"  # noqa: S105 - an auth kind, not a credential
WORKLOAD_IDENTITY = "workload-identity"
MANAGED_IDENTITY = "managed-identity"
AZURE_CLI = "azure-cli"
AUTH_KINDS = (CLIENT_SECRET, WORKLOAD_IDENTITY, MANAGED_IDENTITY, AZURE_CLI)
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
# A federated token is a JWT of a few KiB: a source that holds more is refused (never read whole,
# taught to the Redactor or sent to Entra).
FEDERATED_TOKEN_MAX = 64 * 1024

# Token source kinds (`TokenSource.kind`).
FILE = "file"
GITHUB = "github-actions"
AZURE_PIPELINES = "azure-pipelines"
VARIABLE = "variable"


class TokenSource(Record):
    """Where a federated token comes from.  `where` is for people (plan, messages): never a token."""

    kind: str
    where: str
    path: str | None = None  # FILE
    request_url: str | None = None  # GITHUB (with `?api-version=...`), AZURE_PIPELINES
    request_token: Secret | None = None  # GITHUB, AZURE_PIPELINES
    token: Secret | None = None  # VARIABLE


class AuthSpec(Record):
    """A credential's `auth:` and its settings.  `missing` (workload identity only): no token source
    is present; the text names every source looked for."""

    kind: str = CLIENT_SECRET
    audience: str = DEFAULT_AUDIENCE
    service_connection_id: str | None = None
    source: TokenSource | None = None
    missing: str | None = None
    where: str = "the client secret"  # how it signs in, for `plan`

    @property
    def is_keyless(self) -> bool:
        return self.kind != CLIENT_SECRET


class CredentialSpec(Record):
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


class LiteralValue(Record):
    """A value written in the manifest itself."""

    value: str


FetchKey = tuple[str, str, "str | None"]
"""(credential, secret name lower-cased, version): what one GET fetches."""


class SecretRef(Record):
    """A reference to a Key Vault secret, parsed and normalised (see `baker.manifest.refs`).

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


# `certificate:` formats (the SPEC's): key then chain, the chain, the key (PKCS#8 PEM), as stored.
CERT_FORMATS = ("pem", "cert", "key", "pfx-base64")


class CertificateRef(Record):
    """`{certificate: NAME, format: F}`: the certificate's secret (PKCS#12 or PEM, as Key Vault keeps
    it), converted to `format` by `baker.certificates`.  `ref` has no JSON key."""

    ref: SecretRef
    format: str


Part = LiteralValue | SecretRef | CertificateRef
"""What a template's `from:` entry may be: any value form but another template."""


class Placeholder(Record):
    name: str


class TemplateValue(Record):
    """`template:` + `from:`: `segments` is the template text split once at load: plain text (a
    `str`) and placeholders (`Placeholder`), so substitution is a join and a value inserted is
    never scanned again.  `parts` in `from:` order."""

    text: str
    segments: tuple[str | Placeholder, ...]
    parts: tuple[tuple[str, Part], ...]


Source = LiteralValue | SecretRef | CertificateRef | TemplateValue
"""One value source: what an env entry (and a file entry) holds."""


def source_refs(source: Source) -> tuple[SecretRef, ...]:
    """Every Key Vault reference a value source reads, in order."""
    if isinstance(source, SecretRef):
        return (source,)
    if isinstance(source, CertificateRef):
        return (source.ref,)
    if isinstance(source, TemplateValue):
        return tuple(ref for _, part in source.parts for ref in source_refs(part))
    return ()


def from_vault(source: Source) -> bool:
    """True when the value holds anything read from Key Vault (a secret, never printed)."""
    return bool(source_refs(source))


class EnvEntry(Record):
    name: str
    source: Source
    line: int | None = None
    prefix: str | None = None  # taken by `env_from:` with this prefix (set at bake time)


class EnvFrom(Record):
    """`env_from: [{prefix:, credential:}]`: every enabled secret of the vault whose name starts
    with `prefix` (compared case-insensitively, as Key Vault names are), made an env var by
    `env_name`.  The names are known only when the vault is listed (`baker.envfrom`)."""

    prefix: str
    credential: str
    line: int | None = None

    def env_name(self, secret: str) -> str:
        """The SPEC's rule: prefix dropped, `-` to `_`, upper case (may be no env var name)."""
        return secret[len(self.prefix) :].replace("-", "_").upper()


class FileEntry(Record):
    """One `files:` entry: a value put into the image as a file, in the one layer the bake adds.
    `path` is absolute and normalised (`baker.manifest.files` checks it); `mode` the permission bits
    (no setuid, setgid or sticky bit); `uid`/`gid` numeric.  `name` is the path: what messages, the
    resolver and the provenance record call the entry (an env var name never starts with `/`)."""

    path: str
    source: Source
    mode: int = 0o444
    uid: int = 0
    gid: int = 0
    line: int | None = None

    @property
    def name(self) -> str:
        return self.path


class BuildSpec(Record):
    """`image.build`: the app image baker builds first (the docker build wrapper)."""

    context: str
    dockerfile: str = "Dockerfile"
    target: str | None = None
    args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # id -> the Key Vault secret BuildKit mounts at `RUN --mount=type=secret,id=ID` (never baked)
    secrets: Mapping[str, SecretRef] = field(default_factory=lambda: MappingProxyType({}))
    network: str | None = None  # as `docker build --network`
    platforms: tuple[str, ...] = ()  # `--platform`; more than one needs buildx and `push`
    push: str | None = None  # where the unbaked app image is pushed (needed by --in-registry)


class ImageSpec(Record):
    base: str | None  # `image.from`
    build: BuildSpec | None
    tags: tuple[str, ...] = ()


def marked_default(credentials: Mapping[str, CredentialSpec]) -> list[str]:
    """The credentials marked `default: true`, in manifest order."""
    return [c.name for c in credentials.values() if c.is_default]


def default_credential(credentials: Mapping[str, CredentialSpec]) -> str | None:
    """The one rule for a reference that names no credential: the credential marked default, when
    exactly one is; None when none or several are (no-credential)."""
    defaults = marked_default(credentials)
    return defaults[0] if len(defaults) == 1 else None


class Manifest(Record):
    path: str
    image: ImageSpec
    credentials: Mapping[str, CredentialSpec]
    env: tuple[EnvEntry, ...]
    warnings: tuple[str, ...] = ()
    env_from: tuple[EnvFrom, ...] = ()
    files: tuple[FileEntry, ...] = ()

    @property
    def items(self) -> tuple[EnvEntry | FileEntry, ...]:
        """Everything the bake puts into the image, each with a `name` and a `source`: the env vars,
        then the files (named by their paths)."""
        return (*self.env, *self.files)

    @property
    def references(self) -> tuple[tuple[str, SecretRef], ...]:
        """(name, reference) for every Key Vault reference of the env vars and files, template parts
        and certificates too (a file's name is its path)."""
        return tuple((e.name, ref) for e in self.items for ref in source_refs(e.source))

    @property
    def build_secrets(self) -> tuple[tuple[str, SecretRef], ...]:
        """`image.build.secrets`: (id, reference), resolved with the env's references, never baked."""
        return tuple(self.image.build.secrets.items()) if self.image.build is not None else ()

    @property
    def default_credential(self) -> str | None:
        return default_credential(self.credentials)

    @property
    def used_credentials(self) -> tuple[str, ...]:
        """Credentials some env var, `env_from:` or build secret resolves through, in manifest order."""
        used = {ref.credential for _, ref in (*self.references, *self.build_secrets)}
        used |= {e.credential for e in self.env_from}
        return tuple(name for name in self.credentials if name in used)

    def require_credentials(self, names: Iterable[str]) -> None:
        """Raise `ManifestError` when a credential about to be used is unknown, or has an unset
        `${NAME}` / AZURE_* variable (load() only warned about those while nothing used it).  The
        one offline check before signing in, for `resolve`, `check`, `test-connection`, `secrets`."""
        problems = []
        for name in dict.fromkeys(names):
            cred = self.credentials.get(name)
            if cred is None:
                hint = did_you_mean(name, self.credentials, otherwise="the manifest defines: ")
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
                hint = fix_for(Diagnosis.NO_FEDERATED_TOKEN)
            raise ManifestError(problems, hint=hint)

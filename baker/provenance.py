"""The provenance record a baked image carries: per env var, where its value came from.

The record is one image label (`LABEL`) holding compact JSON:

    {"v": 1,
     "base": {"ref": "registry.example.com/app:1.4.2", "digest": "sha256:..."},
     "credentials": {"azure-shared": {"vault_url": "https://shared-vault.vault.azure.net"}},
     "env": {"LOG_LEVEL": {"literal": true},
             "DB_PASSWORD": {"ref": "database-credentials#password", "credential": "azure-shared",
                             "version": "9a1b...", "pinned": true}}}

`base` is what the image was baked onto (`BaseRecord`): the base as the manifest named it
(`image.from`, or the app image `image.build` made), and its digest: on the engine the base's image
id (`sha256:` of its config), in the registry the base's manifest or index digest.  `build
--if-stale` re-bakes onto it, so a rotation re-bake changes the values and nothing else.  Images
baked before baker recorded it have none (`base_of` gives None).  Readers that do not know the
field ignore it (the format version stays 1).

It never holds a value, nor a hash of one: a hash of a low-entropy value (a short password, a port)
is as good as the value to anyone who can pull the image.  Staleness is told by versions, which
Key Vault changes on every write.  Literals are told apart by comparing the manifest with the
image's own `Env` (both already public to whoever holds the manifest and the image).

Size matters (a label is in every image config, and 400 variables make it large): vault URLs sit
once per credential, and `ref` is the reference as written, from which the SPEC's grammar gives
back the Azure secret name and JSON key (the first `#` splits; `_` becomes `-` in the name).
`secret`/`key` are stored explicitly only where that grammar would not give them back.  400
variables with long names stay near 65 KB.  Pure: imports neither docker nor azure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from baker.errors import BadReference, ImageError
from baker.manifest.refs import parse_reference
from baker.model import LiteralValue, Manifest, SecretRef

if TYPE_CHECKING:
    from baker.resolver import ResolvedEnv

LABEL = "dev.baker.provenance"
FORMAT_VERSION = 1

Kind = Literal["literal", "secret"]
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class BaseRecord:
    """What an image was baked onto: `ref` as named (`image.from`, or the built app), and `digest`
    (engine: the base's image id; registry: its manifest or index digest)."""

    ref: str
    digest: str


@dataclass(frozen=True)
class Origin:
    """Where one baked env var's value came from (never the value)."""

    env: str
    kind: Kind
    credential: str | None = None
    vault_url: str | None = None
    secret: str | None = None  # the Azure name (after `_` -> `-`)
    key: str | None = None  # the JSON key after `#`
    version: str | None = None  # the version that was baked
    pinned: bool = False  # the manifest pinned `version`
    written: str | None = None  # the reference as written in the manifest
    # A literal file's text (a literal is written in the manifest, in git, and is in the image's
    # layer for anyone who pulls it): `check` compares it, as it compares a literal env var with Env.
    text: str | None = None

    @property
    def fetch_key(self) -> tuple[str, str, str | None] | None:
        """The (credential, secret, version) a `check` asks about: the current version for an
        unpinned reference, the baked one for a pinned reference."""
        if self.kind != "secret" or self.credential is None or self.secret is None:
            return None
        return (self.credential, self.secret.lower(), self.version if self.pinned else None)


def _spelled(secret: str | None, key: str | None) -> str | None:
    if secret is None:
        return None
    return secret if key is None else f"{secret}#{key}"


def _parse_written(written: str) -> tuple[str, str | None] | None:
    """The reference as written, read by the manifest's own grammar (`baker.manifest.refs`); None when it
    does not follow it (the record then names the secret and key itself)."""
    try:
        parsed = parse_reference(written)
    except BadReference:
        return None
    return parsed.name, parsed.key


def from_resolved(resolved: ResolvedEnv, manifest: Manifest) -> tuple[Origin, ...]:
    """One `Origin` per env var and file of `manifest` (a file's `env` is its path), in manifest
    order, with the versions `resolved` fetched."""
    by_env = {entry.env: entry for entry in (*resolved.entries, *resolved.files)}
    origins: list[Origin] = []
    for entry in manifest.items:
        source = entry.source
        if not isinstance(source, SecretRef):
            text = source.value if is_file(entry.name) and isinstance(source, LiteralValue) else None
            origins.append(Origin(env=entry.name, kind="literal", text=text))
            continue
        got = by_env.get(entry.name)
        version = got.version if got is not None else None
        if version is None and got is not None and got.properties is not None:
            version = got.properties.version
        if version is None:
            version = source.version
        credential = manifest.credentials.get(source.credential)
        origins.append(
            Origin(
                env=entry.name,
                kind="secret",
                credential=source.credential,
                vault_url=credential.vault_url if credential is not None else None,
                secret=source.name,
                key=source.key,
                version=version,
                pinned=source.version is not None,
                written=source.written,
            )
        )
    return tuple(origins)


def is_file(name: str) -> bool:
    """An origin named by a path is a `files:` entry (an env var name never starts with `/`)."""
    return name.startswith("/")


def encode(origins: tuple[Origin, ...], base: BaseRecord | None = None) -> str:
    credentials: dict[str, dict[str, str]] = {}
    env: dict[str, dict[str, Any]] = {}
    files: dict[str, dict[str, Any]] = {}
    for origin in origins:
        records = files if is_file(origin.env) else env
        if origin.kind == "literal":
            records[origin.env] = (
                {"literal": True} if origin.text is None else {"literal": True, "text": origin.text}
            )
            continue
        written = origin.written or _spelled(origin.secret, origin.key) or ""
        record: dict[str, Any] = {"ref": written, "credential": origin.credential, "version": origin.version}
        if origin.pinned:
            record["pinned"] = True
        if _parse_written(written) != (origin.secret, origin.key):
            # Only when the reference grammar would not give them back (never for a manifest baker read).
            record["secret"] = origin.secret
            record["key"] = origin.key
        records[origin.env] = record
        if origin.credential is not None and origin.vault_url is not None:
            credentials[origin.credential] = {"vault_url": origin.vault_url}
    document: dict[str, Any] = {"v": FORMAT_VERSION}
    if base is not None:
        document["base"] = {"ref": base.ref, "digest": base.digest}
    document.update(credentials=credentials, env=env)
    if files:
        document["files"] = files
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def to_label(resolved: ResolvedEnv, manifest: Manifest, *, base: BaseRecord | None = None) -> str:
    """The label's text for an image baked from `manifest` with the versions in `resolved`, onto
    `base` (None: not recorded, as `render` writes it)."""
    return encode(from_resolved(resolved, manifest), base)


def base_of(text: str) -> BaseRecord | None:
    """The base a label's record names; None when it names none (baked before baker recorded it).
    `ImageError` when the text is not a record baker wrote, or its base is malformed."""
    from_label(text)  # the same checks as every reader of the record
    base = json.loads(text).get("base")
    if base is None:
        return None
    ref = base.get("ref") if isinstance(base, dict) else None
    digest = base.get("digest") if isinstance(base, dict) else None
    if not isinstance(ref, str) or not ref or not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ImageError(
            "the image's provenance record is malformed: its base is not a name and a sha256 digest",
            hint="re-bake without --if-stale (`baker build`), which bakes onto image.from",
        )
    return BaseRecord(ref=ref, digest=digest)


def _str_or_none(record: dict[str, Any], field: str, env: str) -> str | None:
    value = record.get(field)
    if value is None or isinstance(value, str):
        return value
    raise ImageError(f"the image's provenance record is malformed: {env}.{field} is not a string")


def from_label(text: str) -> tuple[Origin, ...]:
    """The origins recorded in a label's text; `ImageError` when it is not a record baker wrote."""
    try:
        document = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise ImageError(
            f"the image's provenance label ({LABEL}) is not valid JSON",
            hint="re-bake the image with baker build",
        ) from exc
    except RecursionError:  # an image's label is anyone's text: deep nesting must not crash check
        raise ImageError(
            f"the image's provenance label ({LABEL}) nests JSON too deeply: not a record baker wrote",
            hint="re-bake the image with baker build",
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("env"), dict):
        raise ImageError(f"the image's provenance label ({LABEL}) is not a baker provenance record")
    if document.get("v") != FORMAT_VERSION:
        raise ImageError(
            f"the image's provenance record has format version {document.get('v')!r}; "
            f"this baker reads version {FORMAT_VERSION}",
            hint="use the baker version that baked the image, or re-bake it",
        )
    credentials = document.get("credentials", {})
    if not isinstance(credentials, dict):
        raise ImageError("the image's provenance record is malformed: credentials is not an object")
    files = document.get("files", {})
    if not isinstance(files, dict) or not all(is_file(path) for path in files):
        raise ImageError("the image's provenance record is malformed: files is not an object of paths")
    origins: list[Origin] = []
    for env, record in (*document["env"].items(), *files.items()):
        if not isinstance(record, dict):
            raise ImageError(f"the image's provenance record is malformed: {env} is not an object")
        if record.get("literal") is True:
            literal = record.get("text")
            if literal is not None and not isinstance(literal, str):
                raise ImageError(f"the image's provenance record is malformed: {env}.text is not a string")
            origins.append(Origin(env=env, kind="literal", text=literal))
            continue
        written = _str_or_none(record, "ref", env)
        credential = _str_or_none(record, "credential", env)
        if written is None or credential is None:
            raise ImageError(f"the image's provenance record is malformed: {env} names no credential/ref")
        if "secret" in record:
            secret, key = _str_or_none(record, "secret", env) or "", _str_or_none(record, "key", env)
        else:
            parsed = _parse_written(written)
            if parsed is None:
                raise ImageError(f"the image's provenance record is malformed: {env}'s reference")
            secret, key = parsed
        if not secret:
            raise ImageError(f"the image's provenance record is malformed: {env} names no secret")
        cred_record = credentials.get(credential)
        vault_url = cred_record.get("vault_url") if isinstance(cred_record, dict) else None
        if vault_url is not None and not isinstance(vault_url, str):
            raise ImageError(f"the image's provenance record is malformed: {credential}.vault_url")
        pinned = record.get("pinned", False)
        if not isinstance(pinned, bool):
            raise ImageError(f"the image's provenance record is malformed: {env}.pinned is not a boolean")
        origins.append(
            Origin(
                env=env,
                kind="secret",
                credential=credential,
                vault_url=vault_url,
                secret=secret,
                key=key,
                version=_str_or_none(record, "version", env),
                pinned=pinned,
                written=written,
            )
        )
    return tuple(origins)

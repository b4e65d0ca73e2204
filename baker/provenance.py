"""The provenance record a baked image carries: per env var, where its value came from.

The record is one image label (`LABEL`) holding compact JSON:

    {"v": 1,
     "base": {"ref": "registry.example.com/app:1.4.2", "digest": "sha256:..."},
     "credentials": {"azure-shared": {"vault_url": "https://shared-vault.vault.azure.net"}},
     "env": {"LOG_LEVEL": {"literal": true},
             "DB_PASSWORD": {"ref": "database-credentials#password", "credential": "azure-shared",
                             "version": "9a1b...", "pinned": true}}}

The value shapes add, per env var: `"format": "pem"` (a certificate), `"prefix": "app-"` (taken by
`env_from:`), and for a template `{"template": DIGEST, "parts": {NAME: <a secret's or a literal's
record>}}`: each part's version, and DIGEST = sha256 of the manifest's own text for it (the template
and its literal parts, all in git and in the image's Env already), which tells `changed`.

`base` is what the image was baked onto (`BaseRecord`): the base as the manifest named it
(`image.from`, or the app image `image.build` made), and its digest: on the engine the base's image
id (`sha256:` of its config), in the registry the base's manifest or index digest.  `build
--if-stale` re-bakes onto it, so a rotation re-bake changes the values and nothing else.  Images
baked before baker recorded it have none (`base_of` gives None).  Readers that do not know the
field ignore it (the format version stays 1).

It never holds a value from Key Vault, nor a hash of one: a hash of a low-entropy value (a short
password, a port) is as good as the value to anyone who can pull the image.  Staleness is told by
versions, which Key Vault changes on every write.  Literals are told apart by comparing the manifest with the
image's own `Env` (both already public to whoever holds the manifest and the image).

Size matters (a label is in every image config, and 400 variables make it large): vault URLs sit
once per credential, and `ref` is the reference as written, from which the SPEC's grammar gives
back the Azure secret name and JSON key (the first `#` splits; `_` becomes `-` in the name).
`secret`/`key` are stored explicitly only where that grammar would not give them back.  400
variables with long names stay near 65 KB.  Pure: imports neither docker nor azure.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any, Literal

from baker.errors import BadReference, ImageError
from baker.manifest.refs import parse_reference
from baker.model import CertificateRef, LiteralValue, Manifest, SecretRef, TemplateValue
from baker.record import Record, field, replace

if TYPE_CHECKING:
    from baker.resolver import ResolvedEnv

LABEL = "dev.baker.provenance"
FORMAT_VERSION = 1

Kind = Literal["literal", "secret", "template"]
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class BaseRecord(Record):
    """What an image was baked onto: `ref` as named (`image.from`, or the built app), and `digest`
    (engine: the base's image id; registry: its manifest or index digest)."""

    ref: str
    digest: str


class Origin(Record):
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
    format: str | None = None  # a certificate's form
    prefix: str | None = None  # taken by `env_from:` with this prefix
    template: str | None = None  # a template's digest (its text and literal parts)
    parts: tuple[Origin, ...] = field(default=())  # a template's parts; each `env` is the part's name
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


def template_digest(source: TemplateValue) -> str:
    """sha256 over a template's manifest text: the template and its literal parts (never a value read)."""
    shape = [source.text] + [
        [name, part.value if isinstance(part, LiteralValue) else type(part).__name__]
        for name, part in source.parts
    ]
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode("utf-8")).hexdigest()


def _secret_origin(
    env: str, ref: SecretRef, version: str | None, manifest: Manifest, *, form: str | None = None
) -> Origin:
    credential = manifest.credentials.get(ref.credential)
    return Origin(
        env=env,
        kind="secret",
        credential=ref.credential,
        vault_url=credential.vault_url if credential is not None else None,
        secret=ref.name,
        key=ref.key,
        version=version if version is not None else ref.version,
        pinned=ref.version is not None,
        written=ref.written,
        format=form,
    )


def from_resolved(resolved: ResolvedEnv, manifest: Manifest) -> tuple[Origin, ...]:
    """One `Origin` per env var and file of `manifest` (a file's `env` is its path), in manifest
    order, with the versions `resolved` fetched; then the entries `env_from:` took."""
    by_env = {entry.env: entry for entry in (*resolved.entries, *resolved.files)}
    origins: list[Origin] = []
    for entry in manifest.items:
        source = entry.source
        got = by_env.get(entry.name)
        if isinstance(source, LiteralValue):
            text = source.value if is_file(entry.name) else None
            origins.append(Origin(env=entry.name, kind="literal", text=text))
        elif isinstance(source, TemplateValue):
            read = dict(got.parts) if got is not None else {}
            parts = []
            for name, part in source.parts:
                if isinstance(part, LiteralValue):
                    parts.append(Origin(env=name, kind="literal"))
                    continue
                props = read.get(name)
                version = props.version if props is not None else None
                ref, form = (part.ref, part.format) if isinstance(part, CertificateRef) else (part, None)
                parts.append(_secret_origin(name, ref, version, manifest, form=form))
            origins.append(
                Origin(env=entry.name, kind="template", template=template_digest(source), parts=tuple(parts))
            )
        else:
            version = got.version if got is not None else None
            if version is None and got is not None and got.properties is not None:
                version = got.properties.version
            ref, form = (source.ref, source.format) if isinstance(source, CertificateRef) else (source, None)
            origins.append(_secret_origin(entry.name, ref, version, manifest, form=form))
    named = {entry.name for entry in manifest.env}
    for got in resolved.entries:
        if got.prefix is not None and got.env not in named and isinstance(got.source, SecretRef):
            origin = _secret_origin(got.env, got.source, got.version, manifest)
            origins.append(replace(origin, prefix=got.prefix))
    return tuple(origins)


def _record(origin: Origin) -> dict[str, Any]:
    written = origin.written or _spelled(origin.secret, origin.key) or ""
    record: dict[str, Any] = {"ref": written, "credential": origin.credential, "version": origin.version}
    if origin.pinned:
        record["pinned"] = True
    if origin.format is not None:
        record["format"] = origin.format
    if origin.prefix is not None:
        record["prefix"] = origin.prefix
    if _parse_written(written) != (origin.secret, origin.key):
        # Only when the reference grammar would not give them back (never for a manifest baker read).
        record["secret"] = origin.secret
        record["key"] = origin.key
    return record


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
        if origin.kind == "template":
            parts: dict[str, Any] = {}
            for part in origin.parts:
                parts[part.env] = {"literal": True} if part.kind == "literal" else _record(part)
                if part.credential is not None and part.vault_url is not None:
                    credentials[part.credential] = {"vault_url": part.vault_url}
            records[origin.env] = {"template": origin.template, "parts": parts}
            continue
        records[origin.env] = _record(origin)
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
    `base` (None: not recorded, as `render` writes it).

    The app's build secrets (`image.build.secrets`), when the bake built the app, are recorded
    apart, under `build_secrets` (id -> ref, credential, version): which token version built the
    app, for an audit.  `check` does not compare them: the image holds nothing of a build secret,
    so its rotation leaves the image as current as it was (a rebuild, `build` without --if-stale,
    is what uses the new one)."""
    text = encode(from_resolved(resolved, manifest), base)
    if not resolved.build_secrets:
        return text
    document = json.loads(text)
    document["build_secrets"] = {
        entry.env: {
            "ref": entry.source.written,
            "credential": entry.source.credential,
            "version": entry.version,
        }
        for entry in resolved.build_secrets
        if isinstance(entry.source, SecretRef)
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


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
        if "template" in record:
            parts = record.get("parts")
            digest = record.get("template")
            if not isinstance(parts, dict) or not isinstance(digest, str):
                raise ImageError(f"the image's provenance record is malformed: {env}'s template")
            read = tuple(_origin(name, part, credentials, f"{env}.{name}") for name, part in parts.items())
            origins.append(Origin(env=env, kind="template", template=digest, parts=read))
            continue
        origins.append(_origin(env, record, credentials, env))
    return tuple(origins)


def _origin(env: str, record: object, credentials: dict[str, Any], where: str) -> Origin:
    """One secret's or literal's record (an env var's, or a template part's)."""
    if not isinstance(record, dict):
        raise ImageError(f"the image's provenance record is malformed: {where} is not an object")
    if record.get("literal") is True:
        return Origin(env=env, kind="literal", text=_str_or_none(record, "text", where))
    written = _str_or_none(record, "ref", where)
    credential = _str_or_none(record, "credential", where)
    if written is None or credential is None:
        raise ImageError(f"the image's provenance record is malformed: {where} names no credential/ref")
    if "secret" in record:
        secret, key = _str_or_none(record, "secret", where) or "", _str_or_none(record, "key", where)
    else:
        parsed = _parse_written(written)
        if parsed is None:
            raise ImageError(f"the image's provenance record is malformed: {where}'s reference")
        secret, key = parsed
    if not secret:
        raise ImageError(f"the image's provenance record is malformed: {where} names no secret")
    cred_record = credentials.get(credential)
    vault_url = cred_record.get("vault_url") if isinstance(cred_record, dict) else None
    if vault_url is not None and not isinstance(vault_url, str):
        raise ImageError(f"the image's provenance record is malformed: {credential}.vault_url")
    pinned = record.get("pinned", False)
    if not isinstance(pinned, bool):
        raise ImageError(f"the image's provenance record is malformed: {where}.pinned is not a boolean")
    return Origin(
        env=env,
        kind="secret",
        credential=credential,
        vault_url=vault_url,
        secret=secret,
        key=key,
        version=_str_or_none(record, "version", where),
        pinned=pinned,
        written=written,
        format=_str_or_none(record, "format", where),
        prefix=_str_or_none(record, "prefix", where),
    )

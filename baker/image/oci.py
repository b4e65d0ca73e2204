"""The pure half of baking in the registry: a base image's config, manifest and index in, the baked
ones out, as the exact bytes to send (OCI image spec, and Docker's v2 schema 2 types).

- The config is treated as an opaque JSON object except what a bake changes: `config.Env` (a baked
  variable replaces a base variable of the same name in place, where the base first set it, and any
  later duplicate of that name is dropped; new variables follow the base's, in manifest order: what
  the engine's `ENV` instruction does too), `config.Labels` (the provenance label added), `created`
  (now, RFC 3339 UTC) and `history` (one `empty_layer` entry that names the variables, never a
  value).  Every other key, known to baker or not, is kept as the base had it, numbers as the text
  they were written as (`Number`: never through a float); `rootfs.diff_ids` are untouched, so the
  manifest's layers stay the base's.  NaN and Infinity are not JSON and are refused.
- A manifest keeps its media type and layers; only its config descriptor's digest and size change.
- An index (or Docker manifest list) keeps its media type and every image entry's platform and
  annotations, each pointing at the baked manifest.  Attestation entries (BuildKit's provenance and
  SBOM manifests: platform `unknown/unknown`, annotation `vnd.docker.reference.type:
  attestation-manifest`) are dropped: they describe the base's manifests by digest and would vouch
  for images that are no longer in the index.
- Digests are sha256 of the bytes returned, serialized once: those bytes, and no re-serialization
  of them, are what gets sent.
- Keys are read as the Go tools that copy and run images read them (`check_keys`): a base whose
  config, manifest or index holds, in an object baker edits or trusts, two keys that differ only in
  case, or spells a field baker edits in another case, is refused.  Go's encoding/json matches a key
  to a field exactly or else case-insensitively, and a later key overwrites (a list) or merges into
  (an object) what an earlier one set, so a later `"env"`, `"Config"` or `"Digest"` would win over
  baker's edit: the image would run the base's values.  A key written twice in one object is
  refused too (Go merges the two, Python keeps the last).
- Values no process environment can carry (a NUL, a lone surrogate) are refused, naming the variable
  (`baker.envvalue`, the rule `render` applies too); a baked config over `CONFIG_MAX` is refused.

The config bytes hold the values: callers keep them in memory, never log, write or raise them.
JSON is written ASCII-only (`\\uXXXX` escapes), so any value, even one no UTF-8 encoder takes,
serializes without an error that could quote it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from baker import envvalue
from baker.errors import ImageError
from baker.output import untrusted
from baker.record import Record

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((*INDEX_TYPES, *IMAGE_TYPES))
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"
MIB = 1024 * 1024
# The sizes the tools around baker read, and so the most baker reads or writes:
# - a manifest or index: 4 MiB, distribution's own limit for a manifest PUT (`maxManifestBodySize`,
#   registry/handlers/manifests.go, distribution/distribution#2340), which containers/image (skopeo,
#   podman) reads at most too (`iolimits.MaxManifestBodySize`);
# - an image config: 4 MiB, what containers/image reads of a config blob (`iolimits.MaxConfigBodySize`,
#   containers/image#805, CVE-2020-1702): a larger config, base or baked, could not be copied by skopeo
#   nor read back by `check`.  A real config is a few KiB (its labels, Env and history; never layers).
MANIFEST_MAX = 4 * MIB
CONFIG_MAX = 4 * MIB
# The OCI image spec's digest grammar: a digest from a registry is checked against it before any
# message names it (it is then safe text; anything else a registry sends is shown `untrusted`).
_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{1,256}")


# --- keys, as Go reads them ----------------------------------------------------------------------
# Go's encoding/json (decode.go `object`): a key names the struct field `fields.byExactName[key]`,
# else `fields.byFoldedName[foldName(key)]` (fold.go: ASCII upper-cased, any other rune to the least
# of its `unicode.SimpleFold` orbit, so KELVIN SIGN (U+212A) is `k` and LONG S (U+017F) is `s`);
# every key is decoded in order, so the last of two keys naming one field wins (a list is replaced,
# an object merged into).  `str.casefold` equates every pair that folding does (and a few more, such
# as SHARP S and `ss`: refused too).  Maps (`Labels`, `annotations`, `ExposedPorts`) are exact in Go
# and not checked.
CONFIG_FIELDS = ("config", "created", "history", "rootfs", "architecture", "os", "variant")
CONTAINER_FIELDS = ("Env", "Labels")
MANIFEST_FIELDS = ("config", "layers", "mediaType", "manifests")
DESCRIPTOR_FIELDS = ("digest", "size", "mediaType", "platform", "annotations")
PLATFORM_FIELDS = ("os", "architecture", "variant")


def _shown_key(key: str) -> str:
    return untrusted(key if len(key) <= 60 else key[:60] + "...")


def check_keys(obj: dict[str, Any], where: str, fields: Sequence[str]) -> None:
    """Refuse `obj` (a struct-like object of a base's config, manifest or index; `where` names it)
    when two of its keys differ only in case, or when it spells one of `fields` (what baker edits or
    trusts in it) in another case: Docker, containerd, skopeo and the registry would read another
    key than baker edits."""
    seen: dict[str, str] = {}
    for key in obj:
        folded = key.casefold()
        earlier = seen.get(folded)
        if earlier is not None:
            raise ImageError(
                f"the base image's {where} has both `{_shown_key(earlier)}` and `{_shown_key(key)}`: keys "
                "that differ only in case, which Docker, containerd and skopeo read as one field (the "
                "later wins), so the image would not run what baker bakes; baker refuses it",
                hint="rebuild the base with a standard tool (docker build, buildx, buildah)",
            )
        seen[folded] = key
    for name in fields:
        spelled = seen.get(name.casefold())
        if spelled is not None and spelled != name:
            raise ImageError(
                f"the base image's {where} spells `{name}` as `{_shown_key(spelled)}`: Docker, containerd "
                "and skopeo read keys regardless of case, baker edits the field by its name; baker "
                "refuses it rather than guess",
                hint="rebuild the base with a standard tool (docker build, buildx, buildah)",
            )


def check_config_keys(document: dict[str, Any]) -> None:
    """A base config's keys (`check_keys`): the top level and its `config` object."""
    check_keys(document, "config", CONFIG_FIELDS)
    config = document.get("config")
    if isinstance(config, dict):
        check_keys(config, "config's `config` object", CONTAINER_FIELDS)


def check_manifest_keys(document: dict[str, Any], what: str = "manifest") -> None:
    """A base manifest's or index's keys (`check_keys`): the top level, its config and layer
    descriptors, its index entries and their platforms."""
    check_keys(document, what, MANIFEST_FIELDS)
    descriptors: list[tuple[str, Any]] = [(f"{what}'s `config` descriptor", document.get("config"))]
    for field in ("layers", "manifests"):
        items = document.get(field)
        if isinstance(items, list):
            descriptors += [(f"{what}'s `{field}` entry", item) for item in items]
    for where, descriptor in descriptors:
        if isinstance(descriptor, dict):
            check_keys(descriptor, where, DESCRIPTOR_FIELDS)
            platform = descriptor.get("platform")
            if isinstance(platform, dict):
                check_keys(platform, f"{what}'s `platform` object", PLATFORM_FIELDS)


def is_digest(value: object) -> bool:
    return isinstance(value, str) and _DIGEST_RE.fullmatch(value) is not None


class Blob(Record):
    """Bytes to send, with their descriptor's digest and size."""

    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:  # a config blob holds values: never in a repr
        return f"Blob({self.media_type}, {self.digest}, {self.size} bytes)"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Number(str):
    """A JSON number exactly as a base config wrote it (`1e999`, `0.10000000000000000001`,
    `-0`): kept as its text, never a Python float (which would turn the first into the non-JSON
    `Infinity` and round the second), and written back as that text by `serialize`."""

    __slots__ = ()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class DuplicateKey(ValueError):
    """One JSON object holding a key twice (`key`)."""

    def __init__(self, key: str) -> None:
        super().__init__("a key is written twice in one object")
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return document


def duplicated(what: str, key: str) -> ImageError:
    """A base document with a key written twice in one object: Go's decoder merges the two objects
    (or lists) into one field, Python's keeps the last; no standard tool writes one."""
    return ImageError(
        f"the base image's {what} has the key `{_shown_key(key)}` twice in one object, which Docker, "
        "containerd and skopeo read otherwise than baker would (they merge the two); baker refuses it",
        hint="rebuild the base with a standard tool (docker build, buildx, buildah)",
    )


def check_duplicates(raw: bytes, what: str) -> None:
    """Refuse a base manifest or index (`raw`) with a key written twice in one object (`duplicated`);
    JSON that does not parse is left to the caller's own parse."""
    try:
        json.loads(raw, object_pairs_hook=_unique)
    except DuplicateKey as exc:
        raise duplicated(what, exc.key) from None
    except (ValueError, RecursionError):
        return


def checked_config(raw: bytes) -> dict[str, Any]:
    """A base config read only to be checked, before any secret (a JSON object, `check_config_keys`,
    no key written twice), by the plain `json` parser: several times faster than `parse_config` on a
    config of many numbers, and never written back."""
    return _config_object(raw, lambda data: json.loads(data, object_pairs_hook=_unique))


def _config_object(raw: bytes, parse: Callable[[bytes], Any]) -> dict[str, Any]:
    """The base config `raw` read by `parse`: a JSON object with no key written twice, its keys
    checked (`check_config_keys`); anything else refused."""
    try:
        document = parse(raw)
    except DuplicateKey as exc:
        raise duplicated("config", exc.key) from None
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise ImageError("the base image's config is not a JSON object")
    check_config_keys(document)
    return document


def parse_config(raw: bytes) -> Any:
    """A base config's JSON, numbers kept as written (`Number`); NaN and Infinity, which are not
    JSON, refused (ValueError, as for any other malformed JSON); a key written twice in one object
    refused (`DuplicateKey`, a ValueError)."""
    return json.loads(
        raw,
        parse_float=Number,
        parse_int=Number,
        parse_constant=_refuse_constant,
        object_pairs_hook=_unique,
    )


def _encode(node: Any, out: list[str]) -> None:
    if type(node) is Number:
        out.append(str.__str__(node))
    elif isinstance(node, dict):
        out.append("{")
        for i, (key, value) in enumerate(node.items()):
            out.append(("," if i else "") + json.dumps(str(key), ensure_ascii=True) + ":")
            _encode(value, out)
        out.append("}")
    elif isinstance(node, list | tuple):
        out.append("[")
        for i, value in enumerate(node):
            if i:
                out.append(",")
            _encode(value, out)
        out.append("]")
    else:  # str, int, bool, None; a float that is not finite is refused (allow_nan=False)
        out.append(json.dumps(node, ensure_ascii=True, allow_nan=False))


def serialize(document: dict[str, Any]) -> bytes:
    """Compact, ASCII-only JSON (`\\uXXXX` escapes); a `Number` as the text it was read as."""
    out: list[str] = []
    try:
        _encode(document, out)
    except RecursionError:
        raise ImageError("the base image's config nests JSON too deeply to write back") from None
    return "".join(out).encode("ascii")


def media_type_of(document: dict[str, Any], content_type: str = "") -> str:
    """A manifest's own `mediaType`, else the registry's Content-Type for it."""
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    content_type = content_type.split(";")[0].strip()
    if content_type in (*INDEX_TYPES, *IMAGE_TYPES):
        return content_type
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST


def is_attestation(entry: dict[str, Any]) -> bool:
    annotations = entry.get("annotations")
    if isinstance(annotations, dict) and annotations.get(ATTESTATION_ANNOTATION) == "attestation-manifest":
        return True
    plat = entry.get("platform")
    return isinstance(plat, dict) and plat.get("os") == "unknown" and plat.get("architecture") == "unknown"


def platform_name(platform: Any) -> str:
    """`os/architecture[/variant]`, as docker and the OCI image spec write it."""
    if not isinstance(platform, dict):
        return "unknown"
    parts = [str(platform.get("os") or "unknown"), str(platform.get("architecture") or "unknown")]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)


def image_entries(index: dict[str, Any]) -> list[dict[str, Any]]:
    """The index's entries a bake bakes (attestations left out); anything else it cannot bake is
    an error, since dropping it silently would lose part of the image."""
    check_manifest_keys(index, "index")
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ImageError("the base image's index lists no manifests")
    kept: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not is_digest(entry.get("digest")):
            raise ImageError("the base image's index has an entry without a digest")
        if is_attestation(entry):
            continue
        media_type = entry.get("mediaType")
        if media_type not in IMAGE_TYPES:
            raise ImageError(
                f"the base image's index has an entry of type {untrusted(str(media_type))} "
                f"({untrusted(platform_name(entry.get('platform')))}) that baker cannot bake",
                hint="bake on an index of image manifests (OCI or Docker v2)",
            )
        kept.append(entry)
    if not kept:
        raise ImageError("the base image's index holds no image manifest (only attestations)")
    return kept


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def history_entry(names: Sequence[str], created: str, comment: str) -> dict[str, Any]:
    return {
        "created": created,
        "created_by": f"baker: ENV {' '.join(names)} (values from Key Vault)",
        "empty_layer": True,
        "comment": comment,
    }


def files_history_entry(paths: Sequence[str], created: str, comment: str) -> dict[str, Any]:
    """The history entry of the `files:` layer (not empty): it names the paths, never a value."""
    return {
        "created": created,
        "created_by": f"baker: COPY {' '.join(paths)} (values from Key Vault)",
        "comment": comment,
    }


def merge_env(base: Sequence[str], baked: Sequence[tuple[str, str]]) -> list[str]:
    """The base's `NAME=value` list with each baked variable in place of the base's first one of
    that name (later ones of that name dropped) and the rest appended in the order given."""
    values = dict(baked)
    merged: list[str] = []
    placed: set[str] = set()
    for item in base:
        name = item.partition("=")[0]
        if name not in values:
            merged.append(item)
        elif name not in placed:
            merged.append(f"{name}={values[name]}")
            placed.add(name)
    merged.extend(f"{name}={value}" for name, value in baked if name not in placed)
    return merged


def check_env(env: Sequence[tuple[str, str]]) -> None:
    """Every value bakeable (`baker.envvalue`, the rule `render` applies): else the first variable
    that is not is named, never its value."""
    for name, value in env:
        refusal = envvalue.problem(name, value)
        if refusal is not None:
            raise ImageError(refusal, hint=envvalue.HINT)


def bake_config(
    base: bytes,
    env: Sequence[tuple[str, str]],
    labels: dict[str, str],
    *,
    created: str,
    comment: str,
    media_type: str,
    layer: tuple[str, Sequence[str]] | None = None,
) -> Blob:
    """The base config (its bytes as the registry sent them) with `env` and `labels` baked in.
    `layer`: the `files:` layer's diff_id and paths (`baker.image.fileslayer`), appended to
    `rootfs.diff_ids` with its history entry."""
    document = _config_object(base, parse_config)
    check_env(env)
    config = document.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ImageError("the base image's config has a malformed `config` field")
    base_env = config.get("Env") or []
    base_labels = config.get("Labels") or {}
    history = document.get("history") or []
    if not isinstance(base_env, list) or not isinstance(base_labels, dict) or not isinstance(history, list):
        raise ImageError("the base image's config has a malformed Env, Labels or history")
    config = dict(config)
    config["Env"] = merge_env([str(item) for item in base_env], env)
    config["Labels"] = {**base_labels, **labels}
    document = dict(document)
    document["config"] = config
    document["created"] = created
    added = []
    if layer is not None:
        rootfs = document.get("rootfs")
        diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        if not isinstance(rootfs, dict) or not isinstance(diff_ids, list):
            raise ImageError("the base image's config has no rootfs.diff_ids to add the files: layer to")
        document["rootfs"] = {**rootfs, "diff_ids": [*diff_ids, layer[0]]}
        added.append(files_history_entry(layer[1], created, comment))
    document["history"] = [*history, *added, history_entry([name for name, _ in env], created, comment)]
    blob = Blob(serialize(document), media_type)
    if blob.size > CONFIG_MAX:
        raise ImageError(
            f"the baked config would be {blob.size / MIB:.1f} MiB, over the {CONFIG_MAX // MIB} MiB that "
            "registries' clients read (skopeo and podman refuse a larger one, and `check` could not read it)",
            hint="bake fewer or smaller values, or onto a base with a smaller config",
        )
    return blob


def bake_manifest(base: dict[str, Any], config: Blob, media_type: str, layer: Blob | None = None) -> Blob:
    """The base's manifest pointing at the baked config; layers, annotations and media types kept;
    `layer` (the `files:` layer's gzip blob) appended to the layers."""
    check_manifest_keys(base)
    descriptor = base.get("config")
    layers = base.get("layers")
    if not isinstance(descriptor, dict) or not isinstance(layers, list):
        raise ImageError("the base image's manifest has no config or layers")
    document = copy.deepcopy(base)
    document["config"] = {**descriptor, "digest": config.digest, "size": config.size}
    if layer is not None:
        document["layers"] = [
            *layers,
            {"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size},
        ]
    return Blob(serialize(document), media_type)


def bake_index(base: dict[str, Any], baked: dict[str, Blob], media_type: str) -> Blob:
    """The base index with each image entry pointing at its baked manifest (`baked`: base digest to
    the baked manifest) and the attestation entries dropped."""
    document = copy.deepcopy(base)
    entries: list[dict[str, Any]] = []
    for entry in image_entries(base):
        manifest = baked[str(entry["digest"])]
        entries.append({**entry, "digest": manifest.digest, "size": manifest.size})
    document["manifests"] = entries
    return Blob(serialize(document), media_type)


def layer_descriptors(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not all(
        isinstance(layer, dict) and is_digest(layer.get("digest")) for layer in layers
    ):
        raise ImageError("the base image's manifest lists a layer without a digest")
    return layers


__all__ = [
    "ACCEPT",
    "CONFIG_MAX",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "IMAGE_TYPES",
    "INDEX_TYPES",
    "MANIFEST_MAX",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Blob",
    "DuplicateKey",
    "Number",
    "bake_config",
    "bake_index",
    "bake_manifest",
    "check_config_keys",
    "check_duplicates",
    "check_env",
    "check_keys",
    "check_manifest_keys",
    "checked_config",
    "digest_of",
    "duplicated",
    "files_history_entry",
    "image_entries",
    "is_attestation",
    "is_digest",
    "merge_env",
    "parse_config",
    "platform_name",
    "serialize",
]

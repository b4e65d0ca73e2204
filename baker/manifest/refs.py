"""The reference grammar: `name`, `name#json_key`, and pinned versions.  Pure: no I/O, no SDK.

- The FIRST `#` splits a reference.  The name part has every `_` turned into `-` (Key Vault
  names cannot hold `_`, env-var-minded users write them anyway) and must then match Key Vault's
  rule `^[0-9a-zA-Z-]{1,127}$` (ASCII only).  The key part is taken verbatim: it may hold `#`,
  spaces, anything, but it may not be empty.
- A version is a Key Vault version id: 32 hexadecimal characters.  It is normalised to lower
  case, the form Key Vault itself returns, so a pinned version compares equal to what `check`
  reads back.
- `extract_json_key` picks one key out of a secret holding a JSON object.  A string value comes
  out as is; any other JSON value as its compact JSON text (no insignificant whitespace,
  non-ASCII kept, numbers exactly as written in the secret so `1.10` stays `1.10`).  Strict
  JSON only: `NaN`/`Infinity` make the secret "not JSON"; a key that appears twice (where it
  matters: the chosen key itself, or anywhere inside the chosen value) is refused, because JSON
  parsers disagree on which copy wins and baking the "wrong" one silently is worse than failing.

No message raised here ever holds a secret's value.  Nothing here registers with the redactor
(the module is pure): `extract_json_key`'s caller registers the result under its env var's name.
"""

from __future__ import annotations

import json
import re
from typing import NoReturn

from baker.errors import BadReference, JsonKeyError
from baker.record import Record
from baker.secret import Secret

NAME_RE = re.compile(r"[0-9a-zA-Z-]{1,127}")
VERSION_RE = re.compile(r"[0-9a-fA-F]{32}")
MAX_NAME_LENGTH = 127


class ParsedRef(Record):
    written: str  # as in the manifest
    name: str  # the Azure secret name (`_` turned into `-`)
    key: str | None  # the JSON key, verbatim; None when the reference has no `#`


def normalize_name(name: str) -> str:
    """`name` as Key Vault knows it; raises BadReference when it cannot be a Key Vault name."""
    azure = name.replace("_", "-")
    if not azure:
        raise BadReference("the secret name is empty")
    if len(azure) > MAX_NAME_LENGTH:
        raise BadReference(f"the secret name is {len(azure)} characters long; Key Vault allows at most 127")
    if not NAME_RE.fullmatch(azure):
        bad = sorted({c for c in azure if not (c.isascii() and (c.isalnum() or c == "-"))})
        shown = " ".join(repr(c) for c in bad[:5])
        raise BadReference(
            f"the secret name {name!r} holds {shown}: Key Vault names use only ASCII letters, digits "
            "and '-' ('_' is turned into '-')"
        )
    return azure


def parse_reference(text: str) -> ParsedRef:
    """Split `name#key` at the first `#`, normalise the name, keep the key verbatim."""
    name, sep, key = text.partition("#")
    if not name:
        raise BadReference("the reference has no secret name before '#'" if sep else "the reference is empty")
    azure = normalize_name(name)
    if sep and not key:
        raise BadReference(f"the reference {text!r} has an empty JSON key after '#'")
    return ParsedRef(written=text, name=azure, key=key if sep else None)


def parse_version(text: str) -> str:
    """A Key Vault version id (32 hex characters), in lower case."""
    if not VERSION_RE.fullmatch(text):
        raise BadReference(
            f"{text!r} is not a Key Vault version id (32 hexadecimal characters, the last part of the "
            "secret's version URL)"
        )
    return text.lower()


# --- JSON keys ------------------------------------------------------------------------------------


class _RawNumber(str):
    """A JSON number kept as the text the secret holds (no float rounding, no int size limit)."""


class _Object(dict[str, object]):
    """A JSON object that remembers which of its keys appeared more than once."""

    duplicates: frozenset[str] = frozenset()


def _pairs(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object()
    seen: set[str] = set()
    dups: set[str] = set()
    for key, value in pairs:
        if key in seen:
            dups.add(key)
        seen.add(key)
        obj[key] = value
    obj.duplicates = frozenset(dups)
    return obj


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _has_duplicates(value: object) -> bool:
    if isinstance(value, _Object):
        return bool(value.duplicates) or any(_has_duplicates(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_duplicates(v) for v in value)
    return False


def _compact(value: object) -> str:
    """Compact JSON text; numbers verbatim, non-ASCII kept (as `json.dumps(..., separators=(",",
    ":"), ensure_ascii=False)` would write it, except that numbers are never re-rounded)."""
    if isinstance(value, _RawNumber):
        return str.__str__(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_compact(k)}:{_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def extract_json_key(value: Secret, key: str) -> Secret:
    """The value of `key` in the JSON object `value` holds (see the module docstring)."""
    try:
        document = json.loads(
            value.reveal(),
            object_pairs_hook=_pairs,
            parse_int=_RawNumber,
            parse_float=_RawNumber,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):
        # json's message quotes a piece of the document: never pass it on.
        raise JsonKeyError("the secret's value is not JSON (it must hold a JSON object)") from None
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else "a JSON scalar"
        raise JsonKeyError(f"the secret's value is {kind}, not a JSON object")
    if key not in document:
        close = [k for k in document if k.lower() == key.lower()]
        extra = " (keys are case-sensitive; a key differing only in case exists)" if close else ""
        raise JsonKeyError(f"the secret's JSON object has no key {key!r}{extra}")
    if isinstance(document, _Object) and key in document.duplicates:
        raise JsonKeyError(f"the secret's JSON object has the key {key!r} more than once (ambiguous)")
    chosen = document[key]
    if _has_duplicates(chosen):
        raise JsonKeyError(f"the value of {key!r} holds a JSON object with a repeated key (ambiguous)")
    text = chosen if isinstance(chosen, str) and not isinstance(chosen, _RawNumber) else _compact(chosen)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonKeyError(f"the value of {key!r} holds an unpaired \\u surrogate escape") from None
    # Pure: the caller registers the result with the redactor under its env var's name.
    return Secret(str.__str__(text))

"""Values that carry secrets, and the Redactor that keeps them out of every output.

`Secret` wraps a value so that `repr`, `str`, `format`, pickling and logging never show it;
`reveal()` is the one explicit way out, used only where a value must leave baker or be examined
(the env layer file, the engine call's build args, a JSON key's extraction, the Redactor learning
its forms, a credential handed to azure-identity or a registry).

`Redactor` is told every value (and every client secret) once, as early as it is known, and
every line baker prints, logs or streams passes through it.  It masks the value, each of its
lines, and its common encodings (JSON-escaped, base64 also inside a larger base64 text, hex, repr,
shell-quoted, URL-encoded, and URL-encoded JSON, which is how build args travel in the engine API's
query string); overlapping values are masked whole.  A value that may travel in a host name or a URL
(every `${NAME}` feeding a credential) is registered `any_case`: its forms are also matched in any
letter case (a host is lower-cased on its way) and as a punycode label.  Values shorter than
`Redactor.MIN_LENGTH` would mask half of every line, so they are reported instead (see
`Redactor.short_labels`) and the caller warns about them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shlex
import threading
import urllib.parse
from typing import NoReturn

MASK = "********"


class Secret:
    """A string that masks itself wherever it could be shown."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The value itself.  Call only where the value must travel."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # guards every run's start (issue 17): OpenSSL's bindings, for comparing two values

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


def _base64_cores(raw: bytes) -> set[str]:
    """The part of `raw`'s base64 that stays the same wherever `raw` sits in a larger base64 text
    (a docker auth header, a 76-column wrapped blob): one form per byte offset, with the groups it
    shares with its neighbours dropped."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = 4 if offset else 0
        end = len(encoded) if (offset + len(raw)) % 3 == 0 else len(encoded) - 4
        core = encoded[start:end]
        if len(core) >= 8:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def _variants(value: str) -> set[str]:
    """Every form in which `value` may show up in text that baker emits."""
    forms = {value, value.strip()}
    lines = [line.rstrip("\r") for line in value.split("\n")]
    if len(lines) > 1:
        forms.update(line.strip() for line in lines)
    json_escaped = json.dumps(value)[1:-1]
    json_unicode = json.dumps(value, ensure_ascii=False)[1:-1]
    forms.update({json_escaped, json_unicode})
    # A value may hold lone surrogates (JSON can carry them): never let registering it fail.
    raw = value.encode("utf-8", "surrogatepass")
    forms.add(base64.b64encode(raw).decode().rstrip("="))
    forms.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    forms.update(_base64_cores(raw))
    forms.update({raw.hex(), raw.hex().upper()})
    forms.update({repr(value)[1:-1], repr(raw)[2:-1], shlex.quote(value)})
    for form in (value, json_escaped, json_unicode):
        for safe in ("", "/"):
            quoted = urllib.parse.quote(form, safe=safe, errors="surrogatepass")
            forms.update({quoted, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quoted)})
        forms.add(urllib.parse.quote_plus(form, safe="", errors="surrogatepass"))
    return forms


def _host_forms(value: str) -> set[str]:
    """Forms a host name gives `value` beyond its letter case: each label as IDNA/punycode."""
    forms = set()
    for label in value.lower().split("."):
        if label.isascii():
            continue
        # Not every label is valid IDNA (too long, forbidden characters); raw punycode always is.
        with contextlib.suppress(UnicodeError):
            forms.add(label.encode("idna").decode("ascii"))
        forms.add("xn--" + label.encode("punycode").decode("ascii"))
    return forms


def _any_case_variants(value: str) -> set[str]:
    """The forms of `value` as written, lower- and upper-cased, and as a host label would carry it."""
    forms: set[str] = set()
    for cased in {value, value.lower(), value.upper(), *_host_forms(value)}:
        forms |= _variants(cased)
    return forms


def _start(needle: str, width: int) -> str:
    return needle[:width].lower()


def _longest_first(needles: list[str], *, any_case: bool = False) -> re.Pattern[str]:
    """One pattern for forms sharing a start; the longest is tried first, so the most is masked."""
    flags = re.IGNORECASE if any_case else 0
    return re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)), flags)


class Redactor:
    """Masks registered values in any text.  Thread-safe; registration is idempotent.

    Masking is fast with thousands of forms registered (every value has a few dozen): an index of
    each form's first `MIN_LENGTH` characters finds the few places in a line where one may start,
    and only the forms sharing that start are tried there.
    """

    MIN_LENGTH = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._needles: set[str] = set()
        self._index: dict[str, re.Pattern[str]] | None = None
        # Forms matched in any letter case, indexed by their lower-cased start.
        self._any_case: set[str] = set()
        self._any_case_index: dict[str, re.Pattern[str]] | None = None
        self._short: list[str] = []

    def register(self, value: Secret | str, *, label: str = "a value", any_case: bool = False) -> bool:
        """Remember `value`; returns False (and notes `label`) when it is too short to mask.

        `any_case`: the value may pass through a host name or URL (lower-cased, upper-cased,
        punycode), so its forms are matched whatever their letter case."""
        text = value.reveal() if isinstance(value, Secret) else value
        if not text.strip():
            return True
        if len(text.strip()) < self.MIN_LENGTH:
            with self._lock:
                self._short.append(label)
            return False
        forms = _any_case_variants(text) if any_case else _variants(text)
        needles = {n for n in forms if len(n) >= self.MIN_LENGTH and len(n.strip()) >= self.MIN_LENGTH}
        with self._lock:
            known = self._any_case if any_case else self._needles
            if needles <= known:
                return True
            known |= needles
            # Built on the next redact(), not here: rebuilding on every registration made resolving
            # N secrets cost O(N^2) (4 s for 300).
            if any_case:
                self._any_case_index = None
            else:
                self._index = None
        return True

    @property
    def short_labels(self) -> tuple[str, ...]:
        """Labels of values too short to mask; the caller warns about each."""
        with self._lock:
            return tuple(self._short)

    def _current_index(self) -> dict[str, re.Pattern[str]]:
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    groups: dict[str, list[str]] = {}
                    for needle in self._needles:
                        groups.setdefault(needle[: self.MIN_LENGTH], []).append(needle)
                    self._index = {start: _longest_first(group) for start, group in groups.items()}
                index = self._index
        return index

    def _current_any_case_index(self) -> dict[str, re.Pattern[str]]:
        index = self._any_case_index
        if index is None:
            with self._lock:
                if self._any_case_index is None:
                    groups: dict[str, list[str]] = {}
                    for needle in self._any_case:
                        groups.setdefault(_start(needle, self.MIN_LENGTH), []).append(needle)
                    self._any_case_index = {
                        start: _longest_first(group, any_case=True) for start, group in groups.items()
                    }
                index = self._any_case_index
        return index

    def redact(self, text: str) -> str:
        if len(text) < self.MIN_LENGTH:
            return text
        index = self._current_index()
        any_case = self._current_any_case_index()
        if not index and not any_case:
            return text
        # Overlapping values (one ends where another starts) must both be masked whole: try every
        # position where a form may start, not only where the previous match ended, and merge.
        width = self.MIN_LENGTH
        spans: list[list[int]] = []
        for start in range(len(text) - width + 1):
            end = start
            pattern = index.get(text[start : start + width])
            if pattern is not None and (match := pattern.match(text, start)) is not None:
                end = match.end()
            if any_case:
                pattern = any_case.get(_start(text[start : start + width], width))
                if pattern is not None and (match := pattern.match(text, start)) is not None:
                    end = max(end, match.end())
            if end == start:
                continue
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        if not spans:
            return text
        pieces, last = [], 0
        for start, end in spans:
            pieces += [text[last:start], MASK]
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

    @property
    def longest(self) -> int:
        """Length of the longest masked form: what a stream must hold back to mask across chunks."""
        with self._lock:
            return max((len(n) for n in self._needles | self._any_case), default=0)


# One process-wide redactor: the CLI's log handler and output functions consult it, and every
# layer that learns a value registers it here.  Tests may create their own.
REDACTOR = Redactor()


# --- masking a text for a person or a log (the error lines, every log record) ---------------------

_TOKENISH = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
# A bearer token, not a challenge's parameters (`Bearer authorization="https://..."` stays readable).
_BEARER = re.compile(r'(?i)(bearer\s+)(?![A-Za-z_]+=")[A-Za-z0-9._~+/-]{8,}=*')


# A URL's (or an HTTP request target's) query string: `?` after a path, up to a space or a quote.
QUERY = re.compile(r"(?<=[^\s?\"'])\?[^\s\"'<>]+")
QUERY_DROPPED = "?<query not logged>"


def _drop_build_queries(text: str) -> str:
    return QUERY.sub(lambda m: QUERY_DROPPED if "buildargs" in m.group(0).lower() else m.group(0), text)


def scrub(text: str, redactor: Redactor = REDACTOR) -> str:
    """`text` masked for a person or a log: the Redactor's values, anything shaped like a token or a
    bearer credential, and a build request's query string (every build arg travels in it)."""
    text = _drop_build_queries(text)
    text = redactor.redact(text)
    text = _TOKENISH.sub(MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)

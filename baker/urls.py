"""The one URL parse: what baker checks about a URL from outside (a registry's redirect, upload
`Location`, token realm or tag page; a keyless request URL; a manifest's vault URL) and what it
connects to come from one parse.

A URL that two parsers could read differently is refused, not guessed at: `urllib.parse` takes the
host after the last `@` while urllib3 ends the authority at a backslash, so
`http://OTHER\\@127.0.0.1/` would be checked as loopback and sent to OTHER.  Refused: a backslash,
a control character or white space anywhere, user info (`@` before the host), a percent-escape in
the authority (IPv6 zone ids among them), a scheme other than http(s), a host that is not a plain
name (letters, digits, `.`, `-`, `_`; non-ASCII labels as IDNA), a dotted-quad IPv4 address or a
bracketed IPv6 one, and a port that is not 1..65535 written plainly.

What is left after those refusals is read by a strict grammar here: urllib3's own reading
(`urllib3.util.parse_url`, which requests prepares every request with and whose host and port
urllib3's pool connects to) of that narrow domain, written out (the RFC 3986 host and port, IDNA
by the `idna` package as urllib3 does, dot segments removed and invalid characters percent-encoded
as urllib3 does) so that `validate` and `plan` read a vault URL without importing urllib3 (issue
17: ~70 ms of a process start).  The decision is this module's alone: `parse` reads, `target`
reads the same way and, because a request is about to be made, also has urllib3 read the URL as
written and the normalised text and refuses one it reads otherwise (never expected: the property
tests compare this grammar with urllib3 on every shape they make).  `urllib.parse` (which
requests' adapter picks the connection pool with) must agree too; `Url.text` is the normalised
URL, the one to connect to.

Never quotes a URL in an error (a URL may hold a secret swapped in by mistake).  A leaf: no baker
import."""

from __future__ import annotations

import functools
import ipaddress
import re
import urllib.parse

from baker.record import Record

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Anything a parser may strip, split on or read differently: C0 controls, space, DEL, backslash.
_ODD_CHAR_RE = re.compile(r"[\x00-\x20\x7f\\]")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_RE = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
_PORT_RE = re.compile(r"[1-9][0-9]{0,4}")
_TARGET_RE = re.compile(r"([^?#]*)(?:\?([^#]*))?", re.DOTALL)  # path, query; a fragment is dropped
# urllib3's characters left alone in a path and a query (RFC 3986); any other is percent-encoded.
_PATH_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-~" + "!$&'()*+,;=" + ":@/"
)
_QUERY_CHARS = _PATH_CHARS | {"?"}
_PERCENT_RE = re.compile(r"%[a-fA-F0-9]{2}")
# RFC 3986's IPv6address, as urllib3 writes it: compiled on first use (a bracketed host is rare,
# and the pattern costs a process start a few milliseconds).
_H16 = "[0-9A-Fa-f]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|(?:[0-9]{{1,3}}\.){{3}}[0-9]{{1,3}})"
_IPV6_PAT = "|".join(
    [
        rf"(?:{_H16}:){{6}}{_LS32}",
        rf"::(?:{_H16}:){{5}}{_LS32}",
        rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
        rf"(?:(?:{_H16}:)?{_H16})?::(?:{_H16}:){{3}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
        rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
        rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
        rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
    ]
)


class UrlError(ValueError):
    """A URL baker will not read: `reason` says why, and never quotes the URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Url(Record):
    """A URL as checked and as connected to: `host` in lower case (IDNA for a non-ASCII name, an
    IPv6 address in brackets), `port` the one connected to (the scheme's default when none is
    written), `text` the normalised URL (no fragment) to send the request to."""

    scheme: str
    host: str
    port: int
    text: str

    @property
    def origin(self) -> tuple[str, str, int]:
        """Scheme, host and port: what must match for credentials to go along."""
        return self.scheme, self.host, self.port

    @property
    def shown(self) -> str:
        """`scheme://host:port`, for a message (never the path, query or anything else)."""
        return f"{self.scheme}://{self.host}:{self.port}"


def parse(url: str) -> Url:
    """`url` read once; `UrlError` when baker will not read it (see the module).  Needs no urllib3:
    the offline checks (a manifest's vault URL, a keyless request URL) read by it."""
    if _ODD_CHAR_RE.search(url):
        odd = _ODD_CHAR_RE.search(url)
        assert odd is not None
        raise UrlError(
            "it holds a backslash" if odd.group() == "\\" else "it holds a control character or space"
        )
    scheme_match = _SCHEME_RE.match(url)
    if scheme_match is None or scheme_match.group(1).lower() not in _DEFAULT_PORTS:
        raise UrlError("it is not an http:// or https:// URL")
    if not url[scheme_match.end() :].startswith("//"):
        raise UrlError("it has no host")
    authority = re.split(r"[/?#]", url[scheme_match.end() + 2 :], maxsplit=1)[0]
    if "@" in authority:
        raise UrlError("it holds a user name or password (an @ before its host)")
    if "%" in authority:
        raise UrlError("its host holds a percent-escape")
    if not authority:
        raise UrlError("it has no host")
    _check_port(authority)
    checked = _read(url)
    _agree(checked, url)
    return checked


@functools.lru_cache(maxsize=64)  # `plan` asks once per row: a manifest names a few vaults
def as_connected(url: str) -> str:
    """`url` as baker connects to it, for a review surface (`plan`): the normalised text (the host
    in lower case, IDNA for a non-ASCII name: `https://corp-v\u0430ult.example` is
    `https://xn--corp-vult-5yh.example`, another name than the one it looks like), a trailing `/`
    only as written.  A URL `parse` refuses is returned as written (the manifest checks refused it
    already).  Untrusted text still: print it through the output guards."""
    try:
        text = parse(url).text
    except UrlError:
        return url
    return text[:-1] if text.endswith("/") and not url.endswith("/") else text


def target(url: str) -> Url:
    """`url` read as `parse` reads it, for a request about to be made: urllib3, which the request
    is made with, must read the URL as written and its normalised text the same way (scheme, host,
    port, path and query), else it is refused like any URL two parsers read differently."""
    checked = parse(url)
    _agree_urllib3(checked, url)
    return checked


def join(base: Url, reference: str) -> Url:
    """`reference` (a `Location`, a `Link` target: absolute or relative) resolved against `base`,
    then read as `target` reads a URL (a joined URL is always one about to be requested)."""
    if _ODD_CHAR_RE.search(reference):
        parse(reference)  # raises, saying which
    return target(urllib.parse.urljoin(base.text, reference))


def _read(url: str) -> Url:
    """urllib3's reading of a URL that passed `parse`'s first checks (an http(s) scheme, `//`, an
    authority without `@`, `%`, odd characters or an odd port), then the host rule."""
    scheme_match = _SCHEME_RE.match(url)
    assert scheme_match is not None
    scheme = scheme_match.group(1).lower()
    rest = url[scheme_match.end() + 2 :]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if authority.startswith("["):
        end = authority.find("]")
        written_port = authority[end + 1 :].removeprefix(":")
        if end < 0 or not _ipv6().fullmatch(authority[1:end]):
            raise UrlError("it does not parse as a URL")
        host = authority[: end + 1].lower()
    else:
        name, _, written_port = authority.partition(":")
        if "[" in name or "]" in name:
            raise UrlError("it does not parse as a URL")
        host = _idna(name)
    if not host:
        raise UrlError("it has no host")
    _check_host(host)
    port = int(written_port) if written_port else None  # `_check_port`: 1..65535, written plainly
    path, query = _target(rest[len(authority) :])
    text = f"{scheme}://{host}{f':{port}' if port is not None else ''}{path or '/'}"
    if query is not None:
        text += f"?{query}"
    return Url(scheme, host, port or _DEFAULT_PORTS[scheme], text)


@functools.cache
def _ipv6() -> re.Pattern[str]:
    return re.compile(f"(?:{_IPV6_PAT})")


def _idna(name: str) -> str:
    """The host name as urllib3 sends it: each label in lower case, a non-ASCII one by IDNA 2008
    (the `idna` package, strict, STD3 rules, as urllib3 calls it)."""
    labels = name.split(".")
    if name.isascii():
        return name.lower()
    # guards the common case: only a non-ASCII host name loads the IDNA tables
    import idna

    encoded: list[str] = []
    for label in labels:
        if label.isascii():
            encoded.append(label.lower())
            continue
        try:
            encoded.append(idna.encode(label.lower(), strict=True, std3_rules=True).decode("ascii"))
        except ValueError:  # idna.IDNAError is a UnicodeError
            raise UrlError("it does not parse as a URL") from None
    return ".".join(encoded).lower()


def _target(rest: str) -> tuple[str, str | None]:
    """Path and query after the authority, as urllib3 normalises them: dot segments removed,
    characters outside RFC 3986's sets percent-encoded (an existing escape kept, in upper case)."""
    match = _TARGET_RE.match(rest)
    assert match is not None
    path, query = match.group(1), match.group(2)
    if path:
        path = _encode(_without_dot_segments(path), _PATH_CHARS)
    if query:
        query = _encode(query, _QUERY_CHARS)
    return path, query


def _without_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, as urllib3 applies it."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment == ".":
            continue
        if segment != "..":
            output.append(segment)
        elif output:
            output.pop()
    if path.startswith("/") and (not output or output[0]):
        output.insert(0, "")
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/".join(output)


def _encode(component: str, allowed: frozenset[str]) -> str:
    """Percent-encode what `allowed` lacks (UTF-8), leaving a component already encoded as it is."""
    if "%" not in component and component.isascii() and all(map(allowed.__contains__, component)):
        return component
    component, escapes = _PERCENT_RE.subn(lambda match: match.group(0).upper(), component)
    raw = component.encode("utf-8", "surrogatepass")
    already = escapes == raw.count(b"%")
    encoded = bytearray()
    for byte in raw:
        if (already and byte == 0x25) or (byte < 128 and chr(byte) in allowed):
            encoded.append(byte)
        else:
            encoded += b"%%%02X" % byte
    return encoded.decode()


def _check_port(authority: str) -> None:
    if authority.startswith("["):
        _, _, rest = authority.partition("]")
    else:
        rest = authority[authority.index(":") :] if ":" in authority else ""
    if rest and not (rest.startswith(":") and _PORT_RE.fullmatch(rest[1:]) and int(rest[1:]) <= 65535):
        raise UrlError("its port is not a number from 1 to 65535")


def _check_host(host: str) -> None:
    """A plain name (ASCII labels, IDNA already applied), a dotted-quad IPv4 address or a bracketed
    IPv6 address without a zone: never a form the resolver reads as another address."""
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise UrlError("its host is not a plain name or address") from None
        if not host.endswith("]"):
            raise UrlError("its host is not a plain name or address")
        return
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise UrlError("its host is not a plain name or address")
    if _NUMERIC_RE.fullmatch(labels[-1]):  # the resolver reads it as an address: only 1.2.3.4
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise UrlError("its host is not a plain name or address") from None


def _agree(checked: Url, url: str) -> None:
    """The normalised text reads the same again, and the same to `urllib.parse` (requests' adapter
    picks its connection pool with it), and so does `url` as written when its host is ASCII."""
    bare = checked.host.strip("[]")
    again = _read(checked.text)
    readings = [(again.scheme, again.host.strip("[]"), again.port)]
    default = _DEFAULT_PORTS[checked.scheme]
    for text in (checked.text, url) if url.isascii() else (checked.text,):
        split = urllib.parse.urlsplit(text)
        try:
            port = split.port
        except ValueError:
            raise UrlError("two URL parsers read it differently") from None
        if split.username is not None or split.password is not None:
            raise UrlError("two URL parsers read it differently")
        readings.append((split.scheme.lower(), split.hostname or "", port or default))
    if any(reading != (checked.scheme, bare, checked.port) for reading in readings):
        raise UrlError("two URL parsers read it differently")


def _agree_urllib3(checked: Url, url: str) -> None:
    """urllib3 reads `url` as written, and `checked.text`, as this module did: the normalised text
    it would build is `checked.text` itself."""
    # guards the offline checks (validate, plan): only a request about to be made loads urllib3
    import urllib3.exceptions
    import urllib3.util

    for text in dict.fromkeys((url, checked.text)):  # once when `url` is already normalised
        try:
            parsed = urllib3.util.parse_url(text)
        except (urllib3.exceptions.LocationParseError, ValueError):
            raise UrlError("two URL parsers read it differently") from None
        scheme, host = (parsed.scheme or "").lower(), (parsed.host or "").lower()
        written = f":{parsed.port}" if parsed.port is not None else ""
        read = f"{scheme}://{host}{written}{parsed.path or '/'}"
        if parsed.query is not None:
            read += f"?{parsed.query}"
        if read != checked.text:
            raise UrlError("two URL parsers read it differently")

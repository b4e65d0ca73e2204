"""The one URL parse: what baker checks about a URL from outside (a registry's redirect, upload
`Location`, token realm or tag page; a keyless request URL; a manifest's vault URL) and what it
connects to come from one parse, urllib3's own (`urllib3.util.parse_url`, which requests prepares
every request with and whose host and port urllib3's pool connects to).

A URL that two parsers could read differently is refused, not guessed at: `urllib.parse` takes the
host after the last `@` while urllib3 ends the authority at a backslash, so
`http://OTHER\\@127.0.0.1/` would be checked as loopback and sent to OTHER.  Refused: a backslash,
a control character or white space anywhere, user info (`@` before the host), a percent-escape in
the authority (IPv6 zone ids among them), a scheme other than http(s), a host that is not a plain
name (letters, digits, `.`, `-`, `_`; non-ASCII labels as IDNA), a dotted-quad IPv4 address or a
bracketed IPv6 one, and a port that is not 1..65535 written plainly.  What is accepted is read by
urllib3, re-read by `urllib.parse` (which requests' adapter picks the connection pool with) and
both must agree; `Url.text` is the normalised URL, the one to connect to.

Never quotes a URL in an error (a URL may hold a secret swapped in by mistake).  A leaf: no baker
import."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

import urllib3.exceptions
import urllib3.util

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Anything a parser may strip, split on or read differently: C0 controls, space, DEL, backslash.
_ODD_CHAR_RE = re.compile(r"[\x00-\x20\x7f\\]")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_RE = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
_PORT_RE = re.compile(r"[1-9][0-9]{0,4}")


class UrlError(ValueError):
    """A URL baker will not read: `reason` says why, and never quotes the URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Url:
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
    """`url` read once, by urllib3; `UrlError` when baker will not read it (see the module)."""
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
    try:
        parsed = urllib3.util.parse_url(url)
    except (urllib3.exceptions.LocationParseError, ValueError):
        raise UrlError("it does not parse as a URL") from None
    scheme, host = (parsed.scheme or "").lower(), (parsed.host or "").lower()
    if not host:
        raise UrlError("it has no host")
    _check_host(host)
    port = parsed.port or _DEFAULT_PORTS[scheme]
    written = f":{parsed.port}" if parsed.port is not None else ""
    text = f"{scheme}://{host}{written}{parsed.path or '/'}"
    if parsed.query is not None:
        text += f"?{parsed.query}"
    checked = Url(scheme, host, port, text)
    _agree(checked, url)
    return checked


def join(base: Url, reference: str) -> Url:
    """`reference` (a `Location`, a `Link` target: absolute or relative) resolved against `base`,
    then read as `parse` reads a URL."""
    if _ODD_CHAR_RE.search(reference):
        parse(reference)  # raises, saying which
    return parse(urllib.parse.urljoin(base.text, reference))


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
    """The normalised text reads the same to urllib3 and to `urllib.parse` (requests' adapter picks
    its connection pool with the latter), and so does `url` as written when its host is ASCII."""
    bare = checked.host.strip("[]")
    again = urllib3.util.parse_url(checked.text)
    default = _DEFAULT_PORTS[checked.scheme]
    readings = [(again.scheme or "", (again.host or "").strip("[]"), again.port or default)]
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

"""The one loopback rule: plain http only to a loopback host (tests, local tools, the managed
identity endpoints App Service and its kin run on localhost); https everywhere else.  The registry
client and keyless sign-in (the request tokens: GitHub's, Azure Pipelines', a managed identity
endpoint's header) both go by it.  A leaf: no baker import."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

_HOST_RE = re.compile(r"[A-Za-z0-9._:%-]{1,255}")


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, with an optional `:port`, IPv6 in brackets) is loopback:
    `localhost`, `*.localhost`, 127.0.0.0/8, ::1."""
    name = host
    if name.startswith("["):
        name = name[1 : name.index("]")]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def in_clear(url: str) -> bool:
    """Whether a request to `url` would travel unprotected: anything but https, except plain http to
    a loopback host.  A URL that does not parse counts as in clear."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return True
    scheme = parts.scheme.lower()
    if scheme == "https" and host:
        return False
    return not (scheme == "http" and host and is_loopback(host))


def shown_origin(url: str) -> str:
    """`scheme://host` of `url` for a message: never its path, query or user info, and a host that
    is not a plain name or address is not quoted at all."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "a URL that does not parse"
    if not parts.scheme:
        return "a URL without a scheme"
    return f"{parts.scheme}://{host if _HOST_RE.fullmatch(host) else '(an odd host)'}"


def refusal(var: str, url: str, sends: str) -> str | None:
    """Why `sends` (a request token's name) must not go to `url` (the value of the variable `var`),
    or None when it may: https, or plain http to a loopback host.  Never quotes a token."""
    if not in_clear(url):
        return None
    return (
        f"{var} is {shown_origin(url)}, not https: baker never sends {sends} in clear "
        "(plain http is allowed to a loopback host only)"
    )

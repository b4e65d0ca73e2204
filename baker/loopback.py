"""The one loopback rule: plain http only to a loopback host (tests, local tools, the managed
identity endpoints App Service and its kin run on localhost); https everywhere else.  The registry
client and keyless sign-in (the request tokens: GitHub's, Azure Pipelines', a managed identity
endpoint's header) both go by it.  A URL is read by `baker.urls`, the one parse, whose host is
the one connected to: a URL it refuses (a backslash, user info, a control character, an odd port)
counts as in clear.  Imports `baker.urls` only."""

from __future__ import annotations

import ipaddress

from baker import urls


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, with an optional `:port`, IPv6 in brackets) is loopback:
    `localhost`, `*.localhost`, 127.0.0.0/8 (also as ::ffff:127.x or a numeric shorthand such as
    `127.1`), ::1."""
    name = host
    if name.startswith("["):
        name = name[1 : name.index("]")]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.lower().removesuffix(".")  # `localhost.`: the same name, rooted
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return _numeric_loopback(name)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1 (Go counts it too)
    return address.is_loopback


def _numeric_loopback(name: str) -> bool:
    """A numeric IPv4 shorthand the resolver reads as an address (`127.1`, `2130706433`: glibc's
    inet_aton, which the connection uses) that lands in 127.0.0.0/8."""
    if not name or not all(part.isdigit() or part.startswith("0x") for part in name.split(".")):
        return False
    import socket  # only here, for a name that is all digits: its import is ~5 ms of every start

    try:
        return ipaddress.IPv4Address(socket.inet_aton(name)).is_loopback
    except OSError:
        return False


def in_clear(url: str) -> bool:
    """Whether a request to `url` would travel unprotected: anything but https, except plain http to
    a loopback host.  A URL `baker.urls` refuses counts as in clear."""
    try:
        parsed = urls.parse(url)
    except urls.UrlError:
        return True
    return parsed.scheme != "https" and not is_loopback(parsed.host)


def shown_origin(url: str) -> str:
    """`scheme://host` of `url` for a message: never its path or query, and nothing of a URL
    `baker.urls` refuses (its host is a plain name or address)."""
    try:
        parsed = urls.parse(url)
    except urls.UrlError as exc:
        return f"a URL baker does not read ({exc.reason})"
    return f"{parsed.scheme}://{parsed.host}"


def refusal(var: str, url: str, sends: str) -> str | None:
    """Why `sends` (a request token's name) must not go to `url` (the value of the variable `var`),
    or None when it may: https, or plain http to a loopback host.  Never quotes a token."""
    if not in_clear(url):
        return None
    try:
        urls.parse(url)
    except urls.UrlError as exc:
        return (
            f"{var} is not a URL baker reads one way only ({exc.reason}): baker never sends {sends} "
            "to it (https, or plain http to a loopback host, without user info or backslashes)"
        )
    return (
        f"{var} is {shown_origin(url)}, not https: baker never sends {sends} in clear "
        "(plain http is allowed to a loopback host only)"
    )

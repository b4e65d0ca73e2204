"""The registry client's transport rules: every URL read once, by `baker.urls` (what is checked is
what is connected to; a URL two parsers would read differently is refused), origins (what must
match for credentials to go along), plain http only to loopback, a body sent twice only when it is
bytes, and one operation's deadline (a watchdog that shuts down every socket the operation opened,
so an answer trickled a byte at a time, in its headers or its body, is cut too)."""

from __future__ import annotations

import socket
from typing import Any

import requests.adapters
import urllib3.connection
import urllib3.connectionpool

from baker import urls
from baker.errors import ImageError
from baker.image.registry.refs import ImageRef
from baker.loopback import is_loopback


def checked(url: str, registry: str) -> urls.Url:
    """`url` (built by baker, or named by the registry `registry`) read once: the URL to connect to
    and to check.  One that `baker.urls` refuses is an ImageError naming why, never the URL."""
    try:
        return urls.target(url)
    except urls.UrlError as exc:
        raise _odd(registry, exc) from None


def resolve(base: str, reference: str, registry: str) -> urls.Url:
    """`reference` (a `Location`, a `Link` target) resolved against `base`, read once."""
    try:
        return urls.join(checked(base, registry), reference)
    except urls.UrlError as exc:
        raise _odd(registry, exc) from None


def _odd(registry: str, exc: urls.UrlError) -> ImageError:
    return ImageError(
        f"the registry {registry} sent baker to a URL that baker does not read ({exc.reason}); "
        "baker sent nothing there",
        hint="check the registry's (or its proxy's) external URL and storage redirect configuration",
    )


def registry_origin(ref: ImageRef) -> tuple[str, str, int]:
    """The origin of the registry `ref` names (its API root), read as every URL is."""
    try:
        return urls.target(ref.api_root).origin
    except urls.UrlError as exc:
        raise ImageError(
            f"the registry address {ref.host} is not one baker reads ({exc.reason})",
            hint="write the registry as host or host:port (a port from 1 to 65535, no leading zeros)",
        ) from None


def origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a URL baker built or already checked: what must match for
    credentials to go along."""
    return checked(url, "").origin


def shown_origin(url: str) -> str:
    return checked(url, "").shown


class TrackingAdapter(requests.adapters.HTTPAdapter):
    """Remembers every socket its connections open, so a watchdog can shut them down."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        def tracked(base: Any) -> Any:
            def connect(conn: Any) -> None:
                base.connect(conn)
                sockets.append(conn.sock)

            return type(f"Tracked{base.__name__}", (base,), {"connect": connect})

        self._pools = {
            "http": type(
                "TrackedPool",
                (urllib3.connectionpool.HTTPConnectionPool,),
                {"ConnectionCls": tracked(urllib3.connection.HTTPConnection)},
            ),
            "https": type(
                "TrackedHTTPSPool",
                (urllib3.connectionpool.HTTPSConnectionPool,),
                {"ConnectionCls": tracked(urllib3.connection.HTTPSConnection)},
            ),
        }
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager


def refuse_plain_http(url: str, registry: str) -> None:
    """Plain http only to loopback, as for the registry itself: a registry spoken to over https
    that names an `http://` upload location or redirect elsewhere (a TLS-terminating proxy without
    X-Forwarded-Proto does) would get the request, and its body, in clear text."""
    target = checked(url, registry)
    if target.scheme == "http" and not is_loopback(target.host):
        raise ImageError(
            f"the registry {registry} sent baker to plain http ({target.shown}); baker speaks "
            "only https to a host that is not loopback, and sent nothing there",
            hint="check the registry's (or its TLS proxy's) external URL: it must be https "
            "(behind a proxy, set X-Forwarded-Proto)",
        )


def replayable(data: Any, host: str) -> None:
    """A body can be sent a second time only when it is bytes (or absent)."""
    if data is not None and not isinstance(data, bytes):
        raise ImageError(
            f"the registry {host} asked again for a streamed upload (a 401 or a redirect mid-upload), "
            "which baker cannot send twice",
            hint="try again; check the registry's auth and storage redirect configuration",
        )

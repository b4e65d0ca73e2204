"""Which proxy a request baker makes goes through: none to a loopback host, the environment's
(HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, as requests reads them) to every other host.

requests (and so docker-py and azure-core) takes the environment's proxy even for `localhost` or
127.0.0.1 when NO_PROXY does not name them; Go (the engine, skopeo, the registry) never proxies
`localhost` or a loopback address, whatever NO_PROXY says (`useProxy` in
golang.org/x/net/http/httpproxy).  Plain http is allowed to loopback only because the bytes never
leave the host (`baker.loopback`): through a proxy they would, in clear.  So every session baker
makes requests with is a `baker_session`: each of its adapters is wrapped, and a request to a
host `baker.loopback.is_loopback` calls loopback is sent with no proxy (the adapter's last word,
after requests merged the environment's, and again after a redirect).  Loopback here is
`baker.loopback`'s (`localhost`, `*.localhost`, 127.0.0.0/8, ::1): Go's and a little more
(`*.localhost`, as browsers read it), never less.

The same wrapping keeps `~/.netrc` out (`NO_NETRC`): requests adds a `.netrc` entry's login as Basic
auth to every request with no auth of its own (a `default` entry: to every host), so a registry a
manifest or a `--tag` names, Entra, Key Vault and the engine all got the user's netrc password (a
Key Vault request's bearer token was replaced by it).  The docker CLI, skopeo and Go's tools never
read `.netrc`; baker's registry logins come from the Docker config only.  Imports `baker.loopback`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import requests
import requests.adapters
import requests.auth
import urllib3.util

from baker.loopback import is_loopback


def for_url(url: str, proxies: Mapping[str, str] | None) -> Mapping[str, str]:
    """The proxies a request to `url` may go through: none when its host (as urllib3 reads it, the
    host it connects to) is loopback, `proxies` (the environment's, merged by requests) otherwise.
    A URL urllib3 cannot read goes direct (it will not be connected to either)."""
    try:
        host = urllib3.util.parse_url(url).host
    except urllib3.exceptions.LocationParseError:
        return {}
    if host is None or is_loopback(host):
        return {}
    return proxies or {}


class DirectToLoopback(requests.adapters.HTTPAdapter):
    """An adapter's stand-in that sends each request through it with the proxies `for_url` allows.
    An `HTTPAdapter` with the inner one's pool and retry settings (its own pool is never used):
    MSAL derives a Service Fabric managed identity session from those settings and refuses any
    other adapter."""

    def __init__(self, inner: requests.adapters.BaseAdapter) -> None:
        super().__init__(
            pool_connections=getattr(inner, "_pool_connections", requests.adapters.DEFAULT_POOLSIZE),
            pool_maxsize=getattr(inner, "_pool_maxsize", requests.adapters.DEFAULT_POOLSIZE),
            max_retries=getattr(inner, "max_retries", requests.adapters.DEFAULT_RETRIES),
            pool_block=getattr(inner, "_pool_block", requests.adapters.DEFAULT_POOLBLOCK),
        )
        self.inner = inner

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return self.inner.send(
            request,
            stream=stream,
            timeout=timeout,
            verify=verify,
            cert=cert,
            proxies=for_url(request.url or "", proxies),
        )

    def close(self) -> None:
        self.inner.close()
        super().close()


class _NoNetrc(requests.auth.AuthBase):
    """A session's own auth that adds nothing: with one set, requests never looks in `~/.netrc`
    (`Session.prepare_request` reads it only when neither the request nor the session has auth).
    A request's own auth (a registry login, a token) still wins over it."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request

    def __repr__(self) -> str:
        return "NO_NETRC"


NO_NETRC = _NoNetrc()


def _follow_none(*args: Any, **kwargs: Any) -> Iterator[Any]:
    """requests' redirect walk (`Session.resolve_redirects`) for a baker session: no step.  requests
    runs it for every 3xx answer, even to a request sent with `allow_redirects=False` (to fill in
    `response.next`), and its first step reads the answer's whole body into memory (rt7-7: a
    registry's 307 with an endless body); its later steps read `~/.netrc` for the new host."""
    return iter(())


def baker_session(session: requests.Session) -> requests.Session:
    """`session` as baker makes every one (changed in place; mount adapters before calling it):
    each mounted adapter sends a request to a loopback host with no proxy; no login comes from
    `~/.netrc` (a session that has an auth of its own keeps it); and requests walks no redirect
    (`_follow_none`): a 3xx answer comes back as it is, its body unread, to a caller that follows
    it itself (the registry client, azure-core) or refuses it (the engine, keyless fetches).  (The
    managed identity session, from which MSAL may derive a plain requests session of its own, also
    gets `max_redirects = 0`: `keyless.managed_identity_session`.)"""
    adapters: MutableMapping[str, Any] = session.adapters
    for prefix, adapter in list(adapters.items()):
        if not isinstance(adapter, DirectToLoopback):
            adapters[prefix] = DirectToLoopback(adapter)
    if session.auth is None:
        session.auth = NO_NETRC
    session.resolve_redirects = _follow_none  # type: ignore[method-assign]
    return session

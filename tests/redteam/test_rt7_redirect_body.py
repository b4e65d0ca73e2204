"""Red team round 7 on redirects (cd18e55: `max_redirects = 0` on every session; the registry client
follows each redirect itself, `allow_redirects=False`, closing the 3xx answer unread).

requests' `Session.send` computes `response.next` for a request sent with `allow_redirects=False`
through `resolve_redirects(..., yield_requests=True)`, whose first step is `resp.content`: the
redirect's whole body is read into memory, `stream=True` or not, before the caller sees the answer
(and, with `max_redirects = 0`, before TooManyRedirects is raised).  Stand-in: the hostile registry
of tests/integration/test_registry_hostile.py.

Each was an xfail(strict) reproduction until rt7-7 was fixed (`proxies._follow_none`)."""

from __future__ import annotations

import contextlib
import http.server
from collections.abc import Callable

import pytest

from baker.errors import ImageError
from baker.image.registry import read as registry
from baker.providers.azure.keyless import FederatedTokenError, GitHubTokens
from baker.providers.azure.provider import _pooled_session
from baker.secret import Secret
from tests.integration.test_registry_hostile import Answer, serve

__all__ = ["serve"]  # the fixture
SENT = 64 * 1024 * 1024  # what the redirect's body offers (declared in Content-Length)
CHUNK = 1024 * 1024
UNREAD = 16 * 1024 * 1024  # far above what loopback socket buffers take unread


def test_rt7_7_a_registry_redirect_s_body_is_never_read(
    serve: Callable[[Answer], tuple[str, list[str]]],
) -> None:
    """rt7-7 (medium): a registry (or anything a manifest's `image.from` / `--tag` names) answers a
    manifest GET with 307, a `Location`, and a large body.  `RegistryClient._send` means to close a
    redirect unread; requests has already read all of it into memory (`resp.content` in
    `resolve_redirects`, reached for `allow_redirects=False` too).  Here 64 MiB, all taken; an
    endless body is read until the registry deadline (120 s) at loopback speed: gigabytes.  Expected:
    no more of the body than the socket buffers hold is ever taken."""
    written: list[int] = [0]

    def redirecting(h: http.server.BaseHTTPRequestHandler) -> None:
        if not h.path.startswith("/v2/team/app/manifests/t"):
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(307)
        h.send_header("Location", "/v2/team/app/manifests/elsewhere")
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(SENT))
        h.end_headers()
        h.connection.settimeout(3)  # a client that does not read: the write stalls, then stops
        chunk = b"r" * CHUNK
        try:
            for _ in range(SENT // CHUNK):
                h.wfile.write(chunk)
                written[0] += CHUNK
        except OSError:  # a timeout, a reset
            h.close_connection = True

    host, seen = serve(redirecting)
    with contextlib.suppress(ImageError):  # refused or not found: only what was taken matters here
        registry.fetch_config(f"{host}/team/app:t")
    assert seen, "the registry was never asked"
    assert written[0] < UNREAD, f"{written[0] // CHUNK} MiB of the redirect's body were taken"


def test_rt7_7_the_github_token_endpoint_s_redirect_body_is_never_read(
    serve: Callable[[Answer], tuple[str, list[str]]],
) -> None:
    """rt7-7, the same in `keyless.GitHubTokens` (`allow_redirects=False, stream=True`, its answer
    meant to be read at most `_ANSWER_MAX` bytes): a 307 from ACTIONS_ID_TOKEN_REQUEST_URL is read
    whole by requests first, bounded by nothing but `ANSWER_DEADLINE` (60 s)."""
    written: list[int] = [0]

    def redirecting(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(307)
        h.send_header("Location", "/elsewhere")
        h.send_header("Content-Length", str(SENT))
        h.end_headers()
        h.connection.settimeout(3)
        chunk = b"r" * CHUNK
        try:
            for _ in range(SENT // CHUNK):
                h.wfile.write(chunk)
                written[0] += CHUNK
        except OSError:  # a timeout, a reset
            h.close_connection = True

    host, seen = serve(redirecting)
    tokens = GitHubTokens(
        f"http://{host}/token", Secret("rt7-request-token-3b9d"), "api://AzureADTokenExchange"
    )
    with pytest.raises(FederatedTokenError):
        tokens.get(_pooled_session(1))
    assert seen, "the endpoint was never asked"
    assert written[0] < UNREAD, f"{written[0] // CHUNK} MiB of the redirect's body were taken"

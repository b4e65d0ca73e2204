"""A hostile (or merely unusual) registry for red-team reproductions: a loopback HTTP proxy in front
of Debian's docker-registry (tests/integration/oci_bases.py's `registries`) with hooks that can
rewrite a request, answer it themselves, or act (send a signal) around forwarding it.

The Host header is forwarded as sent, so the registry's absolute `Location`s name the proxy."""

from __future__ import annotations

import http.client
import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Proxy:
    upstream: str  # host:port of the real registry
    host: str = ""  # host:port of the proxy
    seen: list[tuple[str, str]] = field(default_factory=list)
    # (method, path) -> a new path to forward, or an Answer to send instead of forwarding
    rewrite: Callable[[str, str], str | Answer] | None = None
    # called after the upstream answered, before the answer is sent on
    after: Callable[[str, str, int], None] | None = None
    # response headers not sent on (lower case), as a proxy that drops optional headers does
    drop: tuple[str, ...] = ()
    server: http.server.ThreadingHTTPServer | None = None


def _handler(proxy: Proxy) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _any(self) -> None:
            method, path = self.command, self.path
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            proxy.seen.append((method, path))
            if proxy.rewrite is not None:
                decided = proxy.rewrite(method, path)
                if isinstance(decided, tuple):
                    status, headers, answer = decided
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                path = decided
            conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")
            }
            if body or method in ("PUT", "POST", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn.request(method, path, body=body if body else None, headers=headers)
            upstream = conn.getresponse()
            data = upstream.read()
            if proxy.after is not None:
                proxy.after(method, path, upstream.status)
            self.send_response(upstream.status)
            for k, v in upstream.getheaders():
                if k.lower() not in ("content-length", "connection", "transfer-encoding", *proxy.drop):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = _any

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    """Quiet about a client that hangs up (baker stopped mid-request): socketserver would print
    the traceback, from a handler thread that may outlive the test's captured stderr."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


@pytest.fixture
def proxies() -> Iterator[Callable[[str], Proxy]]:
    started: list[http.server.ThreadingHTTPServer] = []

    def start(upstream: str) -> Proxy:
        proxy = Proxy(upstream)
        server = _Server(("127.0.0.1", 0), _handler(proxy))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        proxy.server = server
        proxy.host = f"127.0.0.1:{server.server_address[1]}"
        started.append(server)
        return proxy

    yield start
    for server in started:
        server.shutdown()
        server.server_close()

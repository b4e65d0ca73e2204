"""The TLS socket server: HTTP/1.1 keep-alive, one daemon thread per connection.

Cheap on purpose, because it sits under benchmarks: the TLS handshake happens in the connection's
thread (never in the accept loop), TCP_NODELAY is set, and each response leaves in ONE write
(separate small TLS records for headers and body meet Nagle + delayed ACK and stall ~40 ms).
"""

from __future__ import annotations

import contextlib
import email.utils
import selectors
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from baker.emulator.faults import RecordedRequest, Stats
from baker.emulator.http import Request, Response

Dispatch = Callable[[Request], Response]
_MAX_BODY = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections close after this
    server: TLSServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded in Stats, and stderr belongs to the CLI."""

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or len(self.raw_requestline) > 65536:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._serve()
        except (OSError, ssl.SSLError):  # timeouts, resets, TLS alerts: the client went away
            self.close_connection = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        host_header = (self.headers.get("Host") or "").lower()
        host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        split = urllib.parse.urlsplit(self.path)
        request = Request(
            method=self.command,
            host=host.strip("[]"),
            path=urllib.parse.unquote(split.path),
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        stats = self.server.stats
        stats.enter()
        response = None
        try:
            response = self.server.dispatch(request)
        finally:
            # Recorded BEFORE the answer leaves, so a client that has its answer sees its request
            # in `requests()` (tests count round trips right after a call returns).
            status = 0 if response is None or response.drop else response.status
            stats.leave(RecordedRequest(request.method, request.host, request.path, status))
        if response.drop:
            self.close_connection = True
        else:
            self._write(response)

    def _write(self, response: Response) -> None:
        reason = self.responses.get(response.status, ("",))[0]
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in response.headers]
        lines.append(f"Content-Length: {len(response.body)}")
        lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self, host: str, port: int, context: ssl.SSLContext, dispatch: Dispatch, stats: Stats
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.context = context
        self.dispatch = dispatch
        self.stats = stats
        self._connections: set[ssl.SSLSocket] = set()
        self._conn_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        """In the connection's own thread: the TLS handshake, then the HTTP conversation."""
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self._conn_lock:
            self._connections.add(tls)
        try:
            _Handler(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._conn_lock:
                self._connections.discard(tls)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a broken client connection is not the server's problem."""

    def close_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class ServerThread:
    """Runs a TLSServer's accept loop in a daemon thread; `stop()` ends it and every connection.

    The loop waits on the listening socket and on a wake-up pair, so `stop()` returns as soon as
    the loop has left (socketserver's `serve_forever` notices a shutdown only at its next poll: with
    hundreds of emulators started and stopped in the test suite, those polls were minutes)."""

    def __init__(self, server: TLSServer) -> None:
        self.server = server
        self.port: int = server.server_address[1]
        self.server.timeout = 0.5  # `handle_request` never blocks past this on a vanished client
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="baker-emulator", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.server.socket, selectors.EVENT_READ, "accept")
            selector.register(self._wake_r, selectors.EVENT_READ, "stop")
            while True:
                events = [key.data for key, _ in selector.select()]
                if "stop" in events:
                    return
                self.server.handle_request()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        self._thread.join(timeout=5)
        self.server.server_close()
        self.server.close_connections()
        self._wake_r.close()
        self._wake_w.close()

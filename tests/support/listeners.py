"""A loopback listener that keeps what reaches it: each request's head, answered by a function of it.
For tests that prove where a request went and what it carried (a proxy, a registry, a token URL)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Recorder:
    """Listens on `address` (127.0.0.x only) at a free port; `heads` keeps each request's head (its
    request line and headers, up to the blank line), `answer(head)` gives the bytes sent back."""

    def __init__(self, address: str = "127.0.0.1", answer: Callable[[bytes], bytes] = lambda head: NOT_FOUND):
        assert address.startswith("127."), "loopback only"
        self._answer = answer
        self._sock = socket.socket()
        self._sock.bind((address, 0))
        self._sock.listen(8)
        self.host = f"{address}:{self._sock.getsockname()[1]}"
        self.url = f"http://{self.host}"
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    head = conn.recv(65536).split(b"\r\n\r\n", 1)[0]
                    self.heads.append(head)
                    conn.sendall(self._answer(head))
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()

"""One operation's end: a timer that shuts down every socket of the operation when it comes
(`Deadline`), for the registry client, keyless token fetches and the engine's connect probe.  A
leaf: the standard library only."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

TIMEOUT = 30  # seconds, at most, for each connect and each read within a deadline


class Deadline:
    """The end of one operation: a timer that shuts down every socket of it when it comes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def passed(self) -> bool:
        """The deadline came, whether or not its timer has run yet (on a loaded machine it may run
        after a socket timeout set to what was left, which fires with the deadline)."""
        return self.expired or time.monotonic() >= self.end

    def left(self) -> float:
        return max(0.05, min(float(TIMEOUT), self.end - time.monotonic()))

    def cancel(self) -> None:
        self._timer.cancel()

"""Fault injection and request statistics, shared by every connection thread.

`Faults` is plain mutable state (tests flip fields directly); the small lock here guards counters
only, never a sleep, so injected latency lets requests overlap as they would against Azure.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from typing import Literal

from baker.record import Record, field

Decision = Literal["ok", "throttle", "error", "drop"]


class Faults(Record, frozen=False):
    """What goes wrong on vault requests (Entra and the admin API are never faulted).

    latency: seconds added to every vault request.  throttle_rps: requests per second per vault
    beyond which Key Vault answers 429 (None = unlimited).  retry_after: the Retry-After seconds sent
    with a 429 (0 = no header).  throttle_next / error_next / drop_next: the next N vault requests get
    a 429 / a 500 / a closed connection.  error_rate / drop_rate: the share (0..1) of vault requests
    answered 500 / dropped without an answer.
    """

    latency: float = 0.0
    throttle_rps: float | None = None
    retry_after: int = 1
    throttle_next: int = 0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    error_next: int = 0
    drop_next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _windows: dict[str, collections.deque[float]] = field(default_factory=dict, repr=False, compare=False)

    def decide(self, vault: str) -> Decision:
        """Pick this request's fate, consuming a one-shot switch if one is armed."""
        with self._lock:
            if self.drop_next > 0:
                self.drop_next -= 1
                return "drop"
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return "throttle"
            if self.error_next > 0:
                self.error_next -= 1
                return "error"
            if self.throttle_rps is not None and self._over_rate(vault, self.throttle_rps):
                return "throttle"
        roll = random.random()
        if roll < self.drop_rate:
            return "drop"
        if roll < self.drop_rate + self.error_rate:
            return "error"
        return "ok"

    def _over_rate(self, vault: str, rps: float) -> bool:
        # Key Vault counts requests per vault in a sliding window; refused requests do not count.
        now = time.monotonic()
        window = self._windows.setdefault(vault, collections.deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= rps:
            return True
        window.append(now)
        return False

    def clear(self) -> None:
        with self._lock:
            self.latency, self.throttle_rps, self.retry_after = 0.0, None, 1
            self.throttle_next = self.error_next = self.drop_next = 0
            self.error_rate = self.drop_rate = 0.0
            self._windows.clear()

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in PUBLIC_FIELDS}


PUBLIC_FIELDS = (
    "latency",
    "throttle_rps",
    "retry_after",
    "throttle_next",
    "error_rate",
    "drop_rate",
    "error_next",
    "drop_next",
)


class RecordedRequest(Record):
    """One request as the emulator saw it: host without port, path without query; status 0 = dropped."""

    method: str
    host: str
    path: str
    status: int


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self.peak_in_flight = 0

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)

    def leave(self, record: RecordedRequest) -> None:
        with self._lock:
            self._in_flight -= 1
            self._requests.append(record)

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self.peak_in_flight = self._in_flight

"""The one fan-out helper: outcomes in order, kept errors as answers, anything else raised."""

from __future__ import annotations

import threading
import time

import pytest

from baker import fanout
from baker.errors import BakerError


def test_each_answers_in_the_items_order_whatever_finishes_first() -> None:
    def work(delay: float) -> float:
        time.sleep(delay)
        return delay

    assert fanout.each([0.05, 0.0, 0.02], work, workers=3, keep=BakerError) == [0.05, 0.0, 0.02]


def test_each_keeps_the_named_error_as_that_items_answer() -> None:
    def work(n: int) -> int:
        if n == 2:
            raise BakerError("two")
        return n

    answers = fanout.each([1, 2, 3], work, workers=2, keep=BakerError)
    assert [a if isinstance(a, int) else a.message for a in answers] == [1, "two", 3]


def test_each_raises_an_error_it_does_not_keep() -> None:
    def work(n: int) -> int:
        raise ValueError(f"bug {n}")

    with pytest.raises(ValueError, match="bug"):
        fanout.each([1], work, workers=1, keep=BakerError)


def test_each_of_nothing_is_nothing() -> None:
    assert fanout.each([], lambda n: n, workers=4, keep=BakerError) == []


def test_each_runs_at_most_workers_at_once() -> None:
    lock = threading.Lock()
    running = [0, 0]  # now, peak

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return n

    assert fanout.each(list(range(8)), work, workers=3, keep=BakerError) == list(range(8))
    assert running[1] <= 3

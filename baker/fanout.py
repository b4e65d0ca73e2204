"""The one bounded thread-pool fan-out: the resolver's fetches, the (fleet) check's reads, the
registry walks of `find` and `--revoke-superseded`."""

from __future__ import annotations

import concurrent.futures as cf
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

A = TypeVar("A")
K = TypeVar("K")
T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


def fan_out(
    tasks: Mapping[K, Callable[[], T]], *, workers: int, keep: type[E], name: str = "baker-fanout"
) -> dict[K, T | E]:
    """Run every task on at most `workers` threads; each key's outcome is its result, or the `keep`
    exception it raised.  Anything else (a bug, KeyboardInterrupt in a worker) is raised, and the
    tasks not yet started are cancelled.  The main thread waits in short slices, so Ctrl-C is seen
    at once on every platform."""
    outcomes: dict[K, T | E] = {}
    pool = cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
    try:
        pending = {pool.submit(task): key for key, task in tasks.items()}
        not_done = set(pending)
        while not_done:
            done, not_done = cf.wait(not_done, timeout=0.2)
            for future in done:
                error = future.exception()
                if error is None:
                    outcomes[pending[future]] = future.result()
                elif isinstance(error, keep):
                    outcomes[pending[future]] = error
                else:
                    raise error
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return {key: outcomes[key] for key in tasks}


def each(
    items: Sequence[A], work: Callable[[A], T], *, workers: int, keep: type[E], name: str = "baker-fanout"
) -> list[T | E]:
    """`fan_out` over a list: `work(item)` for each, the outcomes in the items' order."""
    tasks = {index: functools.partial(work, item) for index, item in enumerate(items)}
    return list(fan_out(tasks, workers=min(workers, len(items)), keep=keep, name=name).values())

"""Stop signals: Ctrl-C (SIGINT), SIGTERM and SIGHUP (what a CI system sends a cancelled job, what a
closed terminal sends).

The promise (SPEC): a stopped bake either completed (tags moved, its clean-up done) or changed
nothing, and exits 130 either way.  A signal may land anywhere, so baker decides where it acts:

- `install()` runs first thing in `python -m baker` and in `cli.main`; from then on no stop signal
  ends baker by its default action.  Outside a hold, the first one raises `KeyboardInterrupt`; later
  ones are only noted, because the stop is already under way and its clean-up must run to the end.
- `held(escape=N)`: inside, signals are noted, not raised.  The Nth one that arrives while this hold
  is the innermost raises anyway (an escape hatch for a hung engine; the caller then names what it
  left).  A nested hold hands its notes to the enclosing one; the outermost raises them on leaving
  (`resume`), unless the caller `consume`s them (the bake completed: it exits 130 after its result).
- `interruptible()`: inside a hold, a region where a signal raises at once (resolving, pulling:
  nothing to undo yet), entered only after any stop already noted has been raised.
- `run_stoppable(fn)`: `fn` on a helper thread while the main thread waits, holding signals, and
  stops at a clean point.  For work that waits on threads (the resolver's fetches): an interrupt
  raised inside `concurrent.futures`' own locking can leave a future's lock taken, and the exit
  then waits forever for a fetch thread blocked on it.
- `finish()`: the outcome is decided; later signals are ignored until exit (even while the
  interpreter shuts down).
- `requested()`: whether a stop arrived, so a command that still ended exits 130.

Without `install()` (a library caller), holds install their handler for their duration only.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

from baker.record import Record, field

T = TypeVar("T")

# Signals that stop baker the way Ctrl-C does (SIGHUP does not exist on Windows).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Hold(Record, frozen=False):
    """One held region: the signals noted in it (and in the holds it enclosed)."""

    escape: int | None
    resume: bool
    noted: list[int] = field(default_factory=list)
    arrived: int = 0  # signals that arrived while this hold was the innermost region
    consumed: bool = False

    @property
    def stopped(self) -> bool:
        return bool(self.noted)

    def consume(self) -> bool:
        """Take the noted stop over (the caller acts on it): leaving the hold raises nothing."""
        self.consumed = True
        return self.stopped

    def checkpoint(self) -> None:
        """Raise now for a stop noted so far (a safe point: nothing half-done)."""
        if self.noted:
            raise KeyboardInterrupt


class _State(Record, frozen=False):
    installed: dict[int, Any] | None = None
    regions: list[Hold | None] = field(default_factory=list)  # None: an interruptible region
    requested: list[int] = field(default_factory=list)
    raised: bool = False
    finished: bool = False


_state = _State()


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _state.requested.append(signum)
    if _state.finished:
        return
    region = _state.regions[-1] if _state.regions else None
    if region is None:
        if _state.raised:
            return  # the stop is already under way: let its clean-up finish
        _state.raised = True
        raise KeyboardInterrupt
    region.noted.append(signum)
    region.arrived += 1
    if region.escape is not None and region.arrived == region.escape:
        _state.raised = True
        raise KeyboardInterrupt


def install() -> Callable[[], None]:
    """Handle every stop signal from now on; the undo puts the previous handlers back.  A no-op
    (with a no-op undo) off the main thread or when already installed."""
    if _state.installed is not None or not _on_main_thread():
        return lambda: None
    _state.requested.clear()
    _state.raised = False
    _state.finished = False
    _state.installed = {signum: signal.signal(signum, _on_signal) for signum in STOP_SIGNALS}

    def undo() -> None:
        previous, _state.installed = _state.installed or {}, None
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return undo


def finish() -> None:
    """The outcome is decided (the exit code is known): later signals change nothing.  They are
    ignored by the kernel from here on, not by a Python handler: the interpreter puts the default
    action back for those as it shuts down, and a signal then would end baker by it (-15, -1, -2)."""
    _state.finished = True
    if _state.installed is not None and _on_main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    # CPython (3.11) notes "an unhandled KeyboardInterrupt" whenever one leaves code run from a
    # string (`exec(str)`: dataclasses and namedtuple build their methods so) and, at exit, kills
    # itself with SIGINT when the note is still there, even though baker caught that interrupt and
    # chose its exit code.  Running a string resets the note.
    exec("pass")  # noqa: S102 (a constant)


def requested() -> bool:
    """Whether a stop signal arrived since `install()`."""
    return bool(_state.requested)


@contextmanager
def held(*, escape: int | None = None, resume: bool = True) -> Iterator[Hold]:
    """Note stop signals instead of raising them (see the module docstring).  Off the main thread,
    where signals never arrive, the hold is inert."""
    hold = Hold(escape=escape, resume=resume)
    if not _on_main_thread():
        yield hold
        return
    temporary = install()  # a library caller: handlers for this hold only
    _state.regions.append(hold)
    failed = False
    try:
        yield hold
    except BaseException:
        failed = True
        raise
    finally:
        _state.regions.pop()
        parent = _state.regions[-1] if _state.regions else None
        if not hold.consumed and hold.noted:
            if parent is not None:
                parent.noted.extend(hold.noted)
            elif not failed and hold.resume and not _state.raised:
                _state.raised = True
                temporary()
                raise KeyboardInterrupt
        temporary()


@contextmanager
def interruptible() -> Iterator[None]:
    """Inside a hold, a region where a stop raises at once; a stop already noted raises on entry."""
    if not _on_main_thread() or not _state.regions:
        yield
        return
    enclosing = _state.regions[-1]
    if enclosing is not None and enclosing.noted and not enclosing.consumed:
        _state.raised = True
        raise KeyboardInterrupt
    _state.regions.append(None)
    try:
        yield
    finally:
        _state.regions.pop()


def run_stoppable(fn: Callable[[], T]) -> T:
    """`fn()` on a helper (daemon) thread; a stop signal raises KeyboardInterrupt here at once,
    from a clean point, and `fn`'s result is dropped when it ends.  Off the main thread: `fn()`."""
    if not _on_main_thread():
        return fn()
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(fn())
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)
        finally:
            done.set()

    with held(resume=False) as hold:
        threading.Thread(target=run, name="baker-stoppable", daemon=True).start()
        while not done.wait(0.05):
            if hold.stopped:
                _state.raised = True
                raise KeyboardInterrupt
        if hold.stopped:
            _state.raised = True
            raise KeyboardInterrupt
    if failure:
        raise failure[0]
    return outcome[0]

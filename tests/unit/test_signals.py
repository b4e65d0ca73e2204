"""Stop signals (baker.signals): where a stop raises, where it waits, and that none ends baker by
the default action once installed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from baker import signals


@pytest.fixture
def installed() -> Iterator[None]:
    undo = signals.install()
    try:
        yield
    finally:
        undo()


def _send(signum: int = signal.SIGINT) -> None:
    os.kill(os.getpid(), signum)


def test_first_ctrl_c_is_noted_not_raised_while_held_then_raised_on_leaving() -> None:
    with pytest.raises(KeyboardInterrupt), signals.held() as hold:
        _send()
        assert hold.noted == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_held_stop_that_the_caller_consumes_is_not_raised() -> None:
    with signals.held() as hold:
        _send(signal.SIGTERM)
        assert hold.consume() is True
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_the_escape_signal_raises_at_once_while_held() -> None:
    with pytest.raises(KeyboardInterrupt), signals.held(escape=2):
        _send()
        _send()
        pytest.fail("the second signal should have raised")  # pragma: no cover


def test_two_signals_never_escape_a_hold_of_three() -> None:
    with signals.held(escape=3) as hold:
        _send(signal.SIGINT)
        _send(signal.SIGHUP)
        assert hold.consume()
    assert hold.noted == [signal.SIGINT, signal.SIGHUP]


def test_a_nested_hold_hands_its_stop_to_the_enclosing_one() -> None:
    with signals.held() as outer:
        with signals.held():
            _send()
        assert outer.stopped  # not raised by the inner hold
        assert outer.consume()


def test_an_interruptible_region_raises_a_stop_noted_before_it() -> None:
    with signals.held() as outer:
        _send()
        with pytest.raises(KeyboardInterrupt), signals.interruptible():
            pytest.fail("a noted stop must raise on entry")  # pragma: no cover
        outer.consume()


def test_an_interruptible_region_raises_a_signal_at_once(installed: None) -> None:
    with signals.held() as outer, pytest.raises(KeyboardInterrupt), signals.interruptible():
        _send(signal.SIGTERM)
    outer.consume()


def test_once_a_stop_is_raised_more_signals_do_not_cut_its_clean_up_short(installed: None) -> None:
    cleaned = False
    with pytest.raises(KeyboardInterrupt):
        try:
            _send(signal.SIGTERM)
        finally:
            _send(signal.SIGTERM)  # a second signal, during the clean-up: noted, not raised
            cleaned = True
    assert cleaned and signals.requested()


def test_after_finish_signals_are_ignored_even_as_the_interpreter_shuts_down(installed: None) -> None:
    signals.finish()
    _send(signal.SIGHUP)
    _send(signal.SIGINT)
    assert all(signal.getsignal(signum) is signal.SIG_IGN for signum in signals.STOP_SIGNALS)


def test_holds_are_inert_off_the_main_thread() -> None:
    seen: list[bool] = []

    def run() -> None:
        with signals.held() as hold:
            seen.append(hold.stopped)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [False]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_as_python_m_baker_starts_exits_130_not_by_the_default_action(signum: int) -> None:
    """Signals at the earliest moments `python -m baker` can act on them (its handlers are caught
    as soon as /proc says so): never death by the default action (-2, -15, -1)."""
    finished = subprocess.run(
        [sys.executable, "-m", "baker", "validate", "-f", "/nonexistent/baker.yaml"], capture_output=True
    ).returncode
    codes = set()
    # A trial whose validate ends before the signal lands proves nothing: three delays, then more
    # rounds of them (30 trials at most) until the signal has landed in one (baker starts fast).
    for trial, delay in enumerate((0.0, 0.002, 0.005) * 10):
        if trial >= 3 and 130 in codes:
            break
        process = subprocess.Popen(
            [sys.executable, "-m", "baker", "validate", "-f", "/nonexistent/baker.yaml"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _catches(process.pid, signal.SIGTERM) and process.poll() is None:
            assert time.monotonic() < deadline
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signum)
        codes.add(process.wait(timeout=10))
    assert codes <= {130, finished}  # or validate finished first (no such file)
    assert 130 in codes


def _catches(pid: int, signum: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    except FileNotFoundError:
        return False
    return False


def test_an_interrupt_caught_inside_string_built_code_still_exits_with_baker_s_code(tmp_path: Path) -> None:
    """CPython (`python -m`) kills itself with SIGINT at exit when a KeyboardInterrupt once left
    `exec(str)` code (dataclasses build methods so, at import time), even though it was caught."""
    (tmp_path / "stopped_in_exec.py").write_text(
        "from baker import signals\n"
        "signals.install()\n"
        "try:\n"
        "    exec('raise KeyboardInterrupt')\n"
        "except KeyboardInterrupt:\n"
        "    pass\n"
        "signals.finish()\n"
        "raise SystemExit(130)\n"
    )
    run = subprocess.run([sys.executable, "-m", "stopped_in_exec"], cwd=tmp_path, capture_output=True)
    assert run.returncode == 130


def test_run_stoppable_hands_back_the_result_or_the_error() -> None:
    assert signals.run_stoppable(lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        signals.run_stoppable(lambda: 1 // 0)


def test_run_stoppable_stops_at_once_from_a_clean_point_while_the_work_goes_on(installed: None) -> None:
    release = threading.Event()
    timer = threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        signals.run_stoppable(lambda: release.wait(10))
    assert time.monotonic() - started < 2
    release.set()


def test_a_stopped_process_exits_130_at_once_whatever_helper_threads_still_run() -> None:
    """A resolution a stop cut short may leave a thread in a network call: the process leaves at
    once (interpreter shut-down would wait for it, or end it by a forced unwind that can abort)."""
    script = (
        "import threading, time\n"
        "import baker.cli, baker.__main__\n"
        "def main():\n"
        "    threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon: shut-down waits\n"
        "    print('cleaned up', flush=False)\n"
        "    return 130\n"
        "baker.cli.main = main\n"
        "baker.__main__.run()\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (130, "cleaned up\n")
    assert time.monotonic() - started < 30


def test_the_console_script_runs_baker_inside_the_process_rules() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "baker"]
    assert script.value == "baker.__main__:run"

"""Ctrl-C during the bake's build is held until the engine is done; a second one is not."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from baker.builder_request import deferred_stop


def test_first_ctrl_c_is_noted_not_raised_while_deferred() -> None:
    with deferred_stop(True) as noted:
        os.kill(os.getpid(), signal.SIGINT)
        assert noted == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_ctrl_c_raises_at_once_while_deferred() -> None:
    with pytest.raises(KeyboardInterrupt), deferred_stop(True):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_raises_as_usual_when_not_deferred() -> None:
    with pytest.raises(KeyboardInterrupt), deferred_stop(False) as noted:
        os.kill(os.getpid(), signal.SIGINT)
    assert noted == []


def test_deferral_is_a_no_op_off_the_main_thread() -> None:
    seen: list[object] = []

    def run() -> None:
        with deferred_stop(True) as noted:
            seen.append(noted)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [[]]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

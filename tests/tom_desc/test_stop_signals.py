"""tom_desc.commands.stop_signals: SIGTERM and SIGINT set the stop event
inside the block, and the handlers that were there before come back after it."""

import os
import signal

import pytest

from tom_desc.commands.stop_signals import stop_requested_by_signals


def _previous_term(signum, frame):
    raise AssertionError("the block's handler should have caught SIGTERM")


def _previous_int(signum, frame):
    raise AssertionError("the block's handler should have caught SIGINT")


@pytest.fixture
def previous_handlers():
    saved = {
        sig: signal.signal(sig, handler)
        for sig, handler in ((signal.SIGTERM, _previous_term), (signal.SIGINT, _previous_int))
    }
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_requests_a_stop_and_the_previous_handlers_come_back(previous_handlers, sig):
    with stop_requested_by_signals() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), sig)
        assert stop.wait(5)
    assert signal.getsignal(signal.SIGTERM) is _previous_term
    assert signal.getsignal(signal.SIGINT) is _previous_int


def test_the_previous_handlers_come_back_when_the_block_raises(previous_handlers):
    with pytest.raises(RuntimeError), stop_requested_by_signals():
        raise RuntimeError("the command failed")
    assert signal.getsignal(signal.SIGTERM) is _previous_term
    assert signal.getsignal(signal.SIGINT) is _previous_int

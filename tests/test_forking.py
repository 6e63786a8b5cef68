"""`deferred_interrupts` holds a Ctrl-C back until its block ends (so a pool's bookkeeping is never cut in
half) and then raises it; off the main thread it does nothing."""

import os
import signal
import threading
import time

import pytest

from glossa.forking import deferred_interrupts


@pytest.fixture(autouse=True)
def ctrl_c_on():
    """The suite may run with SIGINT ignored (a background job of a non-interactive shell starts that way)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_inside_the_block_is_raised_when_the_block_ends():
    before = signal.getsignal(signal.SIGINT)
    reached_the_end = False
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here; without the guard KeyboardInterrupt would be raised now
        reached_the_end = True
    assert reached_the_end
    assert signal.getsignal(signal.SIGINT) is before


def test_no_ctrl_c_means_no_interrupt_and_the_handler_comes_back():
    before = signal.getsignal(signal.SIGINT)
    with deferred_interrupts():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_where_ctrl_c_is_ignored_it_stays_ignored():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_off_the_main_thread_it_leaves_the_handler_alone():
    seen = []

    def run() -> None:
        before = signal.getsignal(signal.SIGINT)
        with deferred_interrupts():
            seen.append(signal.getsignal(signal.SIGINT) is before)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [True]

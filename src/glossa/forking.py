"""What glossa's worker pools share: whether workers can be forked here, a worker initializer that leaves
Ctrl-C to the parent, and a guard that keeps Ctrl-C out of a pool's bookkeeping.

Forking (Linux) lets a worker inherit large read-only state — a tokenizer, a filter configuration, the texts
to encode — instead of receiving it pickled; elsewhere (macOS, Windows) pools spawn fresh interpreters. A
Ctrl-C reaches the whole process group: if every worker raised KeyboardInterrupt the user would see one
traceback per worker, so workers ignore it, and the parent, which does get it, shuts its pool down and says
"aborted" in one line. That shutdown waits for every submitted task, and CPython 3.11's
`ProcessPoolExecutor.submit` cut in half by the interrupt (between registering a task and queueing its id)
would leave a task the shutdown waits for forever; so submits run inside `deferred_interrupts`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform.startswith("linux")


def ignore_interrupts() -> None:
    """A pool initializer: this worker leaves Ctrl-C (SIGINT) to its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block until the block ends, then act on it as the process's own
    handler would (KeyboardInterrupt, by default). A no-op off the main thread (signals cannot be caught
    there) and where Ctrl-C is ignored (a background job of a non-interactive shell starts that way)."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (None, signal.SIG_IGN):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signal.SIGINT)

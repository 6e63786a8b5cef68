"""What glossa's worker pools share: whether workers can be forked here, and a worker initializer that
leaves Ctrl-C to the parent.

Forking (Linux) lets a worker inherit large read-only state — a tokenizer, a filter configuration, the texts
to encode — instead of receiving it pickled; elsewhere (macOS, Windows) pools spawn fresh interpreters. A
Ctrl-C reaches the whole process group: if every worker raised KeyboardInterrupt the user would see one
traceback per worker, so workers ignore it, and the parent, which does get it, shuts its pool down and says
"aborted" in one line.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform.startswith("linux")


def ignore_interrupts() -> None:
    """A pool initializer: this worker leaves Ctrl-C (SIGINT) to its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

"""`map_in_order`: a function over a stream of items in forked worker processes, results in input order.

The pipeline's per-document work (cleaning, quality and language filters, dedup hashes and MinHash
signatures, PII redaction) depends on the document alone, so it spreads over cores; the decisions that
depend on every earlier document (is this a duplicate?) stay in the calling process, which consumes the
results in input order. The stream is cut into chunks of `chunk_items`; at most `IN_FLIGHT_PER_WORKER`
chunks per worker are out at once, so memory stays bounded however long the stream is, and the caller reads
the sources while the workers compute.

Workers are forked after the function is put in a module global, so closures over large read-only state (a
boilerplate line sketch, a compiled filter configuration) reach them without pickling: only the items and
the results cross the pipe. Workers leave Ctrl-C to this process (`glossa.forking`). Where `fork` is missing
(macOS, Windows) or one process is asked for, the function runs here, item by item, with the same results.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from glossa.errors import GlossaError
from glossa.forking import can_fork, deferred_interrupts, ignore_interrupts

IN_FLIGHT_PER_WORKER = 3

_forked_function: Callable[[Any], Any] | None = None


def map_in_order(
    function: Callable[[Any], Any], items: Iterable[Any], processes: int, *, chunk_items: int = 32
) -> Iterator[Any]:
    """`map(function, items)` over `processes` forked workers (1: in this process), lazily and in order."""
    if processes <= 1 or not can_fork():
        yield from map(function, items)
        return
    global _forked_function
    _forked_function = function
    chunks = _chunked(items, chunk_items)
    pending: deque[Future[list[Any]]] = deque()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(processes, mp_context=context, initializer=ignore_interrupts) as pool:
            try:
                for chunk in chunks:
                    with deferred_interrupts():
                        pending.append(pool.submit(_apply_to_chunk, chunk))
                    while len(pending) >= IN_FLIGHT_PER_WORKER * processes:
                        yield from pending.popleft().result()
                while pending:
                    yield from pending.popleft().result()
            finally:  # a consumer that stops early (or an error) leaves nothing queued for the shutdown
                for future in pending:
                    future.cancel()
    except BrokenProcessPool as error:
        raise GlossaError(f"a data worker process died ({error}); run with output.processes=1") from None
    finally:
        _forked_function = None


def _apply_to_chunk(chunk: list[Any]) -> list[Any]:
    assert _forked_function is not None
    return [_forked_function(item) for item in chunk]


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk

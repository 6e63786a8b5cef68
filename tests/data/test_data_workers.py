"""The pipeline's per-document work in worker processes gives exactly what one process gives: the same kept
documents in the same order, the same stage counts, the same shards."""

import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from glossa.data.config import load_config
from glossa.data.pipeline import prepare
from glossa.data.workers import map_in_order
from glossa.errors import GlossaError
from glossa.forking import can_fork

needs_fork = pytest.mark.skipif(not can_fork(), reason="workers are forked on Linux only")


@needs_fork
def test_results_come_back_in_input_order_from_a_function_that_cannot_be_pickled():
    lock = threading.Lock()  # a closure over a lock cannot be pickled: it has to reach the workers by fork

    def square(number: int) -> int:
        with lock:
            return number * number

    assert list(map_in_order(square, range(1000), 2, chunk_items=7)) == [n * n for n in range(1000)]


@needs_fork
def test_a_consumer_that_stops_early_and_a_failing_item_leave_nothing_hanging():
    taken = map_in_order(lambda n: n + 1, itertools.count(), 2, chunk_items=3)
    assert list(itertools.islice(taken, 10)) == list(range(1, 11))
    taken.close()  # an endless input: the pool must shut down without waiting for it

    def fails_on_seven(number: int) -> int:
        if number == 7:
            raise GlossaError("item 7 is bad")
        return number

    with pytest.raises(GlossaError, match="item 7 is bad"):
        list(map_in_order(fails_on_seven, range(100), 2, chunk_items=2))


STOP = ["the", "of", "and", "to", "with", "that", "have", "be", "a", "in"]


INTERRUPTED_RUN = """
import faulthandler, signal, sys, time
faulthandler.dump_traceback_later(30, exit=True)  # a hang fails the test with every thread's stack
# Ctrl-C on, as a terminal starts a command: run as a background job of a non-interactive shell (as CI may
# run the suite), this process would inherit SIGINT ignored and never see the test's Ctrl-C
signal.signal(signal.SIGINT, signal.default_int_handler)
from glossa.data.workers import map_in_order
try:
    for n in map_in_order(abs, range(10_000), 2, chunk_items=4):
        time.sleep(0.01)  # a slow consumer: the workers wait for work, as they often do
        if n == 8:
            print("running", flush=True)
except KeyboardInterrupt:
    print("aborted", file=sys.stderr)
    sys.exit(130)
"""


@needs_fork
def test_ctrl_c_stops_the_pool_with_one_line_and_no_worker_tracebacks():
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    try:
        assert process.stdout.readline().strip() == "running"
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the parent and every worker get it
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130 and time.monotonic() - started < 30
        assert stderr.strip() == "aborted", stderr  # no traceback from any worker
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # a failed run leaves nothing behind


def _document(generator: random.Random, index: int) -> str:
    words = [
        generator.choice(STOP) if i % 3 == 1 else "".join(generator.choices("abcdefghijklmnoprstu", k=6))
        for i in range(90)
    ]
    lines = [" ".join(words[i : i + 15]).capitalize() + "." for i in range(0, 90, 15)]
    if index % 4 == 0:
        lines.insert(2, f"Write to reader{index}@example.com or call 555-867-{index:04d} today.")
    lines.append("Subscribe to the weekly letter for more stories like this one.")  # boilerplate
    return "\n".join(lines)


def _corpus(path):
    generator = random.Random(11)
    documents = [_document(generator, index) for index in range(120)]
    rows = []
    for index, text in enumerate(documents):
        rows.append({"id": f"d{index}", "text": text})
        if index % 10 == 3:
            rows.append({"id": f"d{index}-copy", "text": text.upper()})  # exact after case folding
        if index % 10 == 6:
            rows.append({"id": f"d{index}-near", "text": text.replace(".", "!", 1)})
        if index % 25 == 5:
            rows.append({"id": f"d{index}-short", "text": "Too short."})
        if index % 30 == 8:
            rows.append({"id": f"d{index}-withdrawn", "text": text[::-1], "consent": "withdrawn"})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@needs_fork
def test_prepare_in_two_processes_equals_prepare_in_one(tmp_path):
    source = tmp_path / "rows.jsonl"
    _corpus(source)
    results = {}
    for processes in (1, 2):
        out = tmp_path / f"p{processes}"
        config = load_config(None, [f"output.processes={processes}", "output.parquet=false"])
        card = prepare([str(source)], out, config).card
        clean = {path.name: path.read_text() for path in sorted((out / "clean").glob("*.jsonl"))}
        shards = {path.name: path.read_bytes() for path in sorted((out / "tokens").rglob("*.bin"))}
        results[processes] = (card["stages"], card["accounting"], clean, shards)
    one, two = results[1], results[2]
    assert one == two
    dropped = {reason: count for stage in one[0] for reason, count in stage["dropped"].items()}
    assert dropped == {"consent withdrawn": 4, "too short": 5, "exact duplicate": 12, "near duplicate": 12}
    details = {name: count for stage in one[0] for name, count in stage["details"].items()}
    # PII in a duplicate is redacted in a worker before the duplicate is dropped, and is not counted
    assert details["boilerplate lines removed"] == 144 and details["email"] == details["phone"] == 30

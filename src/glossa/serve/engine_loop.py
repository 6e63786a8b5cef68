"""`EngineLoop`: one thread owns an `Engine` and steps it while there is work;
HTTP handlers never wait on it.

llama.cpp's server and vLLM's frontend/engine split, in one process: the asyncio side parses, templates and
tokenises, then `submit`s token ids with an `asyncio.Queue` to deliver to. The request travels to the engine
thread through a command list (never through the engine's lock, which a step holds for a whole forward pass),
and each step's outputs travel back with `loop.call_soon_threadsafe(queue.put_nowait, ...)`. So the event loop
only ever waits on its own queues, and an add or abort costs it microseconds even in the middle of a step.

`Engine.astream` is the other way to drive an engine from asyncio: each stream awaits
`asyncio.to_thread(step)`. It works for one client, but `add_request` and `abort` then take the engine lock
from the event loop itself, so a new request (or a disconnect) stalls every connection until the step ends.

Items delivered to a request's queue: `(request_id, ADMITTED)` once it is in the engine, then one
`(request_id, RequestOutput)` per step that advanced it, or `(request_id, exception)` if it could not be
added (a `GlossaError`) or its step failed. `abort` (a client that went away) frees its KV blocks before the
next step; nothing more is delivered for it.

`threads` is set inside the engine thread, where the model runs. On a shared 2-core machine one thread is
much steadier than two: with other processes busy, two OpenMP threads that spin at every barrier measured
5-14× slower per step than one (a 5-token chat reply: 14 s against 1.3 s).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from glossa.infer.engine import Engine, RequestOutput
from glossa.infer.params import SamplingParams

log = logging.getLogger("glossa.serve")
ADMITTED = "admitted"


@dataclass
class _Sink:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue


class EngineLoop:
    def __init__(self, engine: Engine, name: str = "engine", threads: int = 0) -> None:
        self.engine, self.name, self.threads = engine, name, threads
        self._commands: deque[tuple] = deque()
        self._sinks: dict[str, _Sink] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = False

    @property
    def num_requests(self) -> int:
        """Requests submitted and not finished or aborted (running, waiting, or on their way in)."""
        return len(self._sinks)

    def submit(self, prompt_ids: Sequence[int], params: SamplingParams, queue: asyncio.Queue) -> str:
        """Queue a request; its outputs go to `queue` (see the module docstring). Call from the event loop."""
        request_id = uuid.uuid4().hex
        self._sinks[request_id] = _Sink(asyncio.get_running_loop(), queue)
        self._commands.append(("add", request_id, list(prompt_ids), params))
        self._ensure_thread()
        self._wake.set()
        return request_id

    def abort(self, request_id: str) -> None:
        if self._sinks.pop(request_id, None) is not None:
            self._commands.append(("abort", request_id))
            self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name=f"glossa-{self.name}", daemon=True)
                self._thread.start()

    def _deliver(self, request_id: str, item: object) -> None:
        sink = self._sinks.get(request_id)
        if sink is None:
            return
        try:
            sink.loop.call_soon_threadsafe(sink.queue.put_nowait, (request_id, item))
        except RuntimeError:  # the client's event loop is gone: nobody is listening any more
            self.abort(request_id)

    def _run(self) -> None:
        engine = self.engine
        if self.threads:  # OpenMP settings are per thread: set them where the model runs
            torch.set_num_threads(self.threads)
        while not self._stopping:
            self._apply_commands()
            if not engine.has_unfinished_requests():
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            try:
                outputs: list[RequestOutput] = engine.step()
            except Exception as error:  # the engine aborted that step's requests; fail every live one
                log.exception("engine step failed")
                for request_id in list(self._sinks):
                    engine.abort(request_id)
                    self._deliver(request_id, error)
                    self._sinks.pop(request_id, None)
                continue
            for output in outputs:
                self._deliver(output.request_id, output)
                if output.finished:
                    self._sinks.pop(output.request_id, None)
        for request_id in list(self._sinks):
            engine.abort(request_id)

    def _apply_commands(self) -> None:
        while self._commands:
            command = self._commands.popleft()
            if command[0] == "abort":
                self.engine.abort(command[1])
                continue
            _, request_id, prompt_ids, params = command
            if request_id not in self._sinks:  # aborted before it got in
                continue
            try:
                self.engine.add_request(prompt_ids, params, request_id=request_id)
            except Exception as error:
                self._deliver(request_id, error)
                self._sinks.pop(request_id, None)
                continue
            self._deliver(request_id, ADMITTED)

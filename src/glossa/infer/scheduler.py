"""The scheduler: one rule decides, every step, which tokens of which requests the next forward pass runs.

The rule (vLLM v1's): each request has `num_computed_tokens` and wants to reach `num_tokens` (prompt + output
+ any speculative draft tokens). Every step has a token budget (`max_num_batched_tokens`); the scheduler walks
the requests and gives each min(what it still needs, what is left of the budget). That one rule is

- a prefill, when a new request needs its whole prompt;
- chunked prefill, when the prompt is longer than the budget left (the rest comes next step);
- a decode, when a request needs one token; speculative verification when it needs 1 + k;
- prefix caching, when admission finds the first blocks of the prompt already cached: the request simply
  starts with `num_computed_tokens` > 0;
- continuous batching: requests join and leave the batch at any step, prefills and decodes share a pass.

Order: running requests first (ordered by priority, then arrival), so a request that has started is never
starved by new arrivals; then waiting ones, strictly first come first served within a priority (the head of
the queue is never overtaken, so a long request cannot be starved by a stream of short ones either).

Memory: each scheduled request must get KV blocks for its new tokens. When the pool runs short, the
lowest-priority, latest running request is *preempted by recomputation*: its blocks are freed and it goes
back to the front of the waiting queue with nothing computed (its prompt and output so far are recomputed
when it returns; the prefix cache often makes that cheap). No new requests are admitted in a step that had
to preempt. Aborting a request frees its blocks at once, whatever its state.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

from glossa.errors import GlossaError
from glossa.infer.request import Request, RequestStatus


@dataclass
class ScheduledRequest:
    request: Request
    num_new_tokens: int  # tokens run this step: positions num_computed_tokens … + num_new_tokens


@dataclass
class SchedulerOutput:
    scheduled: list[ScheduledRequest] = field(default_factory=list)
    preempted: list[Request] = field(default_factory=list)

    @property
    def num_batched_tokens(self) -> int:
        return sum(s.num_new_tokens for s in self.scheduled)


class Scheduler:
    def __init__(self, cache, *, max_num_seqs: int, max_num_batched_tokens: int) -> None:
        if max_num_seqs < 1 or max_num_batched_tokens < 1:
            raise GlossaError(
                f"max_num_seqs ({max_num_seqs}) and max_num_batched_tokens ({max_num_batched_tokens}) "
                "must be at least 1"
            )
        self.cache = cache
        self.max_num_seqs, self.max_num_batched_tokens = max_num_seqs, max_num_batched_tokens
        self.waiting: list[Request] = []  # kept sorted by (priority, arrival)
        self.running: list[Request] = []
        self.num_preemptions = 0

    @property
    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running)

    def add(self, request: Request) -> None:
        request.status = RequestStatus.WAITING
        keys = [r.sort_key for r in self.waiting]
        self.waiting.insert(bisect.bisect(keys, request.sort_key), request)

    def abort(self, request_id: str) -> list[Request]:
        """Remove the request (and its n-sample siblings) wherever it is; free its blocks now."""
        removed = [r for r in self.waiting + self.running if request_id in (r.request_id, r.parent_id)]
        for request in removed:
            self._remove(request)
            request.status = RequestStatus.FINISHED
            request.finish_reason = request.finish_reason or "abort"
        return removed

    def finish(self, request: Request) -> None:
        self._remove(request)
        request.status = RequestStatus.FINISHED

    def schedule(self) -> SchedulerOutput:
        out = SchedulerOutput()
        budget = self.max_num_batched_tokens
        self.running.sort(key=lambda r: r.sort_key)
        index = 0
        while index < len(self.running) and budget > 0:
            request = self.running[index]
            needed = request.num_tokens + len(request.spec_token_ids) - request.num_computed_tokens
            count = min(needed, budget)
            if count <= 0:
                index += 1
                continue
            while not self._reserve(request, count):
                victim = self.running.pop()
                self._preempt(victim)
                out.preempted.append(victim)
                if victim is request:
                    break
            if request.status is not RequestStatus.RUNNING:
                break
            out.scheduled.append(ScheduledRequest(request, count))
            budget -= count
            index += 1
        if not out.preempted:
            self._admit(out, budget)
        return out

    def _admit(self, out: SchedulerOutput, budget: int) -> None:
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            request = self.waiting[0]
            seq_id = request.request_id
            if request.num_computed_tokens == 0:
                cached = self.cache.allocate_prompt(seq_id, request.all_ids)
                request.num_computed_tokens = cached
                if request.metrics.first_scheduled_time is None:
                    request.num_cached_tokens = cached
                    request.metrics.cached_prompt_tokens = cached
            count = min(request.num_tokens - request.num_computed_tokens, budget)
            if not self._reserve(request, count):
                self.cache.free(seq_id)  # give back any prefix blocks it took; it stays at the head
                request.num_computed_tokens = 0
                break
            self.waiting.pop(0)
            request.status = RequestStatus.RUNNING
            if request.metrics.first_scheduled_time is None:
                request.metrics.first_scheduled_time = time.perf_counter()
            self.running.append(request)
            out.scheduled.append(ScheduledRequest(request, count))
            budget -= count

    def _reserve(self, request: Request, count: int) -> bool:
        """KV slots for the next `count` tokens (and private copies of shared blocks they write into)."""
        seq_id, start = request.request_id, request.num_computed_tokens
        end = start + count
        if self.cache.can_copy_on_write(seq_id, start, end) > self.cache.num_free_blocks:
            return False
        self.cache.prepare_write(seq_id, start, end)  # private copies first: they are blocks too
        return self.cache.ensure_capacity(seq_id, end)

    def _preempt(self, request: Request) -> None:
        self.cache.free(request.request_id)
        request.num_computed_tokens = 0
        request.spec_token_ids = []
        request.num_preemptions += 1
        self.num_preemptions += 1
        self.add(request)

    def _remove(self, request: Request) -> None:
        if request in self.running:
            self.running.remove(request)
        elif request in self.waiting:
            self.waiting.remove(request)
        self.cache.free(request.request_id)

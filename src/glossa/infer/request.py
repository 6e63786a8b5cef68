"""A request inside the engine: its prompt, its settings, how far it has been computed, what it produced.

The one number the scheduler reasons with is `num_computed_tokens`: how many of the request's tokens
(prompt + output so far) already have their keys and values in the KV cache. A request needs
`num_tokens - num_computed_tokens` more tokens run through the model before it can sample again: the whole
prompt at first (a prefill, maybe in chunks), then one token per step (a decode). A prefix-cache hit simply
starts `num_computed_tokens` above zero; a preemption sets it back to zero (the request is recomputed later,
prompt and output together, as vLLM's recompute preemption does).

    WAITING ──schedule──► RUNNING ──stop/length/abort──► FINISHED
       ▲                     │
       └──── preempted ──────┘   (blocks freed, num_computed_tokens = 0)
"""

from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass, field

import torch

from glossa.infer.metrics import RequestMetrics
from glossa.infer.params import SamplingParams

_arrivals = itertools.count()


class RequestStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(eq=False)
class Request:
    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    priority: int = 0  # lower runs first (vLLM's convention); FCFS among equals
    prompt: str | None = None
    parent_id: str | None = None  # the request this is one of n samples of
    sample_index: int = 0
    status: RequestStatus = RequestStatus.WAITING
    output_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[dict[int, float]] = field(default_factory=list)
    num_computed_tokens: int = 0
    num_cached_tokens: int = 0  # prompt tokens found in the prefix cache at admission
    num_preemptions: int = 0
    finish_reason: str | None = None  # "stop", "length", "abort"
    stop_reason: str | int | None = None
    text: str = ""
    arrival_order: int = field(default_factory=lambda: next(_arrivals))
    metrics: RequestMetrics = field(default_factory=lambda: RequestMetrics(arrival_time=time.perf_counter()))
    generator: torch.Generator | None = None
    detokenizer: object | None = None
    spec_token_ids: list[int] = field(default_factory=list)  # draft tokens proposed for this step
    spec_draft_probs: object | None = None  # (k, vocab) draft distributions, or None for one-hot drafts
    output_counts: dict[int, int] = field(default_factory=dict)  # token -> times generated (penalties)
    delta_ids: list[int] = field(default_factory=list)  # produced since the last RequestOutput
    delta_text: str = ""

    @property
    def all_ids(self) -> list[int]:
        return self.prompt_ids + self.output_ids

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def is_finished(self) -> bool:
        return self.status is RequestStatus.FINISHED

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.priority, self.arrival_order)

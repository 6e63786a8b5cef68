"""Serving metrics, per request and for the whole engine (the numbers `vllm bench` and /metrics report).

Per request (timestamps from `time.perf_counter`, seconds):

    queue time       first scheduled − arrival            waiting for a seat in the batch
    TTFT             first token − arrival                 time to first token: queueing + prefill
    ITL              gaps between consecutive tokens       inter-token latencies
    TPOT             (last token − first token) / (n − 1)  time per output token after the first
    latency (E2E)    finished − arrival                    ≈ TTFT + TPOT · (n − 1)

Engine gauges: requests running and waiting, KV blocks in use, the prefix-cache hit rate (cached prompt blocks
/ prompt blocks looked up) and, with speculative decoding, the acceptance rate (accepted / proposed drafts).
Tokens per second and requests per second are counts over a wall-clock window (`throughput`).
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field


@dataclass
class RequestMetrics:
    arrival_time: float
    first_scheduled_time: float | None = None
    first_token_time: float | None = None
    token_times: list[float] = field(default_factory=list)
    finished_time: float | None = None
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0

    @property
    def generated_tokens(self) -> int:
        return len(self.token_times)

    @property
    def queue_time(self) -> float | None:
        return None if self.first_scheduled_time is None else self.first_scheduled_time - self.arrival_time

    @property
    def ttft(self) -> float | None:
        return None if self.first_token_time is None else self.first_token_time - self.arrival_time

    @property
    def inter_token_latencies(self) -> list[float]:
        times = self.token_times
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    @property
    def tpot(self) -> float | None:
        if len(self.token_times) < 2:
            return None
        return (self.token_times[-1] - self.token_times[0]) / (len(self.token_times) - 1)

    @property
    def e2e_latency(self) -> float | None:
        return None if self.finished_time is None else self.finished_time - self.arrival_time

    def record_token(self, now: float, count: int = 1) -> None:
        if self.first_token_time is None:
            self.first_token_time = now
        self.token_times.extend([now] * count)

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "queue_time": self.queue_time,
            "ttft": self.ttft,
            "tpot": self.tpot,
            "e2e_latency": self.e2e_latency,
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "generated_tokens": self.generated_tokens,
        }


@dataclass
class EngineStats:
    num_running: int = 0
    num_waiting: int = 0
    kv_blocks_used: int = 0
    kv_blocks_total: int = 0
    prefix_cache_hit_rate: float = 0.0
    spec_proposed: int = 0
    spec_accepted: int = 0
    num_preemptions: int = 0
    prompt_tokens_computed: int = 0
    generated_tokens: int = 0
    steps: int = 0

    @property
    def spec_acceptance_rate(self) -> float:
        return self.spec_accepted / self.spec_proposed if self.spec_proposed else 0.0

    @property
    def kv_cache_usage(self) -> float:
        return self.kv_blocks_used / self.kv_blocks_total if self.kv_blocks_total else 0.0


def summarize(values: list[float]) -> dict[str, float]:
    """mean, p50, p99 (as vLLM's bench prints them); zeros for an empty list."""
    if not values:
        return {"mean": 0.0, "p50": 0.0, "p99": 0.0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"mean": statistics.fmean(ordered), "p50": statistics.median(ordered), "p99": p99}


def throughput(
    metrics: list[RequestMetrics], start: float, end: float
) -> dict[str, float]:  # tokens and requests per second over a window
    elapsed = max(end - start, 1e-9)
    generated = sum(m.generated_tokens for m in metrics)
    prompt = sum(m.prompt_tokens for m in metrics)
    return {
        "requests_per_s": len(metrics) / elapsed,
        "output_tokens_per_s": generated / elapsed,
        "total_tokens_per_s": (generated + prompt) / elapsed,
    }

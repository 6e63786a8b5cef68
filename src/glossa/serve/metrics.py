"""Prometheus metrics with vLLM's names and meanings, prefixed `glossa:` (vLLM uses `vllm:`).

Each app has its own `CollectorRegistry`, so two apps in one process (tests) never share counts. Per request,
recorded when it ends: time to first token, inter-token latencies, end-to-end latency, queue time
(histograms), prompt and generated tokens, successes by finish reason (counters). Engine state is read
when /metrics is scraped (no thread writes gauges): requests running and waiting, KV-cache usage (fraction
of blocks in use), prefix-cache hit rate, and prefix-cache hits and queries (counters, in blocks).
Labels: `model_name` (the name the client asked for) and `model_version` (what answered: the A/B arm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from glossa.infer.metrics import RequestMetrics

LABELS = ("model_name", "model_version")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640)
ITL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40)


class EngineGauges(Collector):
    """Reads the engines' stats at scrape time; `engines()` yields (name, Engine)."""

    def __init__(self, engines: Callable[[], Iterable[tuple[str, object]]]) -> None:
        self.engines = engines

    def collect(self):
        families = {
            "running": GaugeMetricFamily(
                "glossa:num_requests_running", "Requests in the running batch", labels=["model_name"]
            ),
            "waiting": GaugeMetricFamily(
                "glossa:num_requests_waiting", "Requests waiting to be scheduled", labels=["model_name"]
            ),
            "kv": GaugeMetricFamily(
                "glossa:kv_cache_usage_perc",
                "Fraction of KV-cache blocks in use (1 = full)",
                labels=["model_name"],
            ),
            "prefix": GaugeMetricFamily(
                "glossa:prefix_cache_hit_rate",
                "Prefix-cache hits / prompt blocks looked up",
                labels=["model_name"],
            ),
            "hits": CounterMetricFamily(
                "glossa:prefix_cache_hits", "Prompt blocks found in the prefix cache", labels=["model_name"]
            ),
            "queries": CounterMetricFamily(
                "glossa:prefix_cache_queries",
                "Prompt blocks looked up in the prefix cache",
                labels=["model_name"],
            ),
        }
        for name, engine in self.engines():
            scheduler, cache = engine.scheduler, engine.cache
            used = cache.num_blocks - cache.num_free_blocks
            families["running"].add_metric([name], len(scheduler.running))
            families["waiting"].add_metric([name], len(scheduler.waiting))
            families["kv"].add_metric([name], used / cache.num_blocks if cache.num_blocks else 0.0)
            families["prefix"].add_metric([name], float(getattr(cache, "prefix_hit_rate", 0.0)))
            families["hits"].add_metric([name], float(getattr(cache, "prefix_hits", 0)))
            families["queries"].add_metric([name], float(getattr(cache, "prefix_queries", 0)))
        yield from families.values()


class ServeMetrics:
    def __init__(self, engines: Callable[[], Iterable[tuple[str, object]]]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ttft = Histogram(
            "glossa:time_to_first_token_seconds",
            "Time to first token",
            LABELS,
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.itl = Histogram(
            "glossa:inter_token_latency_seconds",
            "Inter-token latency",
            LABELS,
            registry=r,
            buckets=ITL_BUCKETS,
        )
        self.e2e = Histogram(
            "glossa:e2e_request_latency_seconds",
            "End-to-end latency",
            LABELS,
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.queue = Histogram(
            "glossa:request_queue_time_seconds",
            "Time waiting before first scheduled",
            LABELS,
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.prompt_tokens = Counter("glossa:prompt_tokens", "Prompt tokens processed", LABELS, registry=r)
        self.generation_tokens = Counter("glossa:generation_tokens", "Tokens generated", LABELS, registry=r)
        self.success = Counter(
            "glossa:request_success", "Finished requests", [*LABELS, "finished_reason"], registry=r
        )
        self.rejected = Counter(
            "glossa:request_rejected",
            "Requests refused by rate limits (429) or back-pressure (503)",
            ["status"],
            registry=r,
        )
        r.register(EngineGauges(engines))

    def record(
        self, name: str, version: str, metrics: RequestMetrics, generated: int, reasons: Iterable[str | None]
    ) -> None:
        """One finished engine request (all its n samples: `generated` tokens, one finish reason each)."""
        labels = (name, version)
        self.prompt_tokens.labels(*labels).inc(metrics.prompt_tokens)
        self.generation_tokens.labels(*labels).inc(generated)
        for value, histogram in ((metrics.ttft, self.ttft), (metrics.e2e_latency, self.e2e)):
            if value is not None:
                histogram.labels(*labels).observe(value)
        if metrics.queue_time is not None:
            self.queue.labels(*labels).observe(metrics.queue_time)
        itl = self.itl.labels(*labels)
        for gap in metrics.inter_token_latencies:
            itl.observe(gap)
        for reason in reasons:
            self.success.labels(*labels, reason or "unknown").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

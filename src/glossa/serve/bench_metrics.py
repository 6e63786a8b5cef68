"""What a serving benchmark measures, computed as vLLM's `bench serve` computes it.

Per request (`RequestResult`): TTFT, the time from sending to the first chunk that carries text; ITL, the gaps
between consecutive text chunks; end-to-end latency (e2el); and the output token count the server reports in
its final usage chunk. Then

    TPOT = (e2el - TTFT) / (output tokens - 1)         per request with more than one token
    request throughput = completed / duration,  output throughput = output tokens / duration
    goodput = requests meeting every SLO / duration     (e.g. ttft <= 500 ms and tpot <= 50 ms)

with mean, median, p90 and p99 of each latency in milliseconds. Failed requests count as failures and never
enter the latency statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from glossa.errors import GlossaError

PERCENTILES = (50, 90, 99)
SLO_METRICS = ("ttft", "tpot", "e2el")


@dataclass
class RequestResult:
    success: bool = False
    prompt_tokens: int = 0
    output_tokens: int = 0
    ttft: float = 0.0  # seconds
    e2el: float = 0.0  # seconds
    itl: list[float] = field(default_factory=list)  # seconds between text chunks
    chunks: int = 0
    text: str = ""
    error: str = ""

    @property
    def tpot(self) -> float | None:
        if not self.success or self.output_tokens < 2:
            return None
        return (self.e2el - self.ttft) / (self.output_tokens - 1)


def parse_slos(specs: Sequence[str]) -> dict[str, float]:
    """'ttft:500 tpot:50' pairs (milliseconds) as {'ttft': 500.0, 'tpot': 50.0}."""
    slos: dict[str, float] = {}
    for spec in specs:
        for item in spec.split():
            name, sep, value = item.partition(":")
            if not sep or name not in SLO_METRICS:
                raise GlossaError(
                    f"goodput SLO '{item}' must be NAME:MS with NAME one of {', '.join(SLO_METRICS)}"
                )
            try:
                milliseconds = float(value)
            except ValueError:
                raise GlossaError(
                    f"goodput SLO '{item}': '{value}' is not a number of milliseconds"
                ) from None
            if not milliseconds > 0:
                raise GlossaError(f"goodput SLO '{item}' must be a positive number of milliseconds")
            slos[name] = milliseconds
    return slos


def _stats(name: str, seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds, dtype=float) * 1000 if len(seconds) else np.zeros(1)
    stats = {f"mean_{name}_ms": float(values.mean()), f"median_{name}_ms": float(np.median(values))}
    stats |= {f"p{p}_{name}_ms": float(np.percentile(values, p)) for p in PERCENTILES if p != 50}
    return stats


def meets_slos(result: RequestResult, slos: dict[str, float]) -> bool:
    measured = {"ttft": result.ttft, "tpot": result.tpot or 0.0, "e2el": result.e2el}
    return result.success and all(measured[name] * 1000 <= limit for name, limit in slos.items())


def summarise(
    results: Sequence[RequestResult], duration: float, slos: dict[str, float] | None = None
) -> dict:
    """The benchmark's numbers for one run, as a flat dict of JSON-ready values."""
    done = [r for r in results if r.success]
    duration = max(duration, 1e-9)
    output = sum(r.output_tokens for r in done)
    prompt = sum(r.prompt_tokens for r in done)
    summary: dict = {
        "completed": len(done),
        "failed": len(results) - len(done),
        "duration_s": duration,
        "total_input_tokens": prompt,
        "total_output_tokens": output,
        "request_throughput": len(done) / duration,
        "output_throughput": output / duration,
        "total_token_throughput": (prompt + output) / duration,
    }
    summary |= _stats("ttft", [r.ttft for r in done])
    summary |= _stats("tpot", [r.tpot for r in done if r.tpot is not None])
    summary |= _stats("itl", [gap for r in done for gap in r.itl])
    summary |= _stats("e2el", [r.e2el for r in done])
    if slos:
        summary["slos_ms"] = dict(slos)
        summary["goodput"] = sum(meets_slos(r, slos) for r in done) / duration
    errors = sorted({r.error for r in results if not r.success})
    summary["errors"] = errors[:10]
    return summary

"""How a serving benchmark is shown: a Rich table per run, a JSON file, and a latency-versus-throughput plot.

The plot puts output throughput (tokens/s) on x and latency (ms) on y, one point per request rate, for TTFT
p50/p99 and TPOT p50: the curve a deployment reads to pick its operating point (latency rises steeply once
the server saturates, while throughput stops growing).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.table import Table

from glossa.atomic import atomic_write_text

PLOTTED = (("median_ttft_ms", "TTFT p50"), ("p99_ttft_ms", "TTFT p99"), ("median_tpot_ms", "TPOT p50"))


def _rate(rate: float | str) -> str:
    return "inf" if rate == "inf" or math.isinf(float(rate)) else f"{float(rate):g}"


def run_table(run: dict) -> Table:
    """vLLM's `bench serve` result block as a two-column table."""
    table = Table(title=f"serving benchmark · {run['model']} · rate {_rate(run['request_rate'])} req/s")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("successful requests", f"{run['completed']}"),
        ("failed requests", f"{run['failed']}"),
        ("max concurrency", f"{run['max_concurrency'] or 'unlimited'}"),
        ("benchmark duration (s)", f"{run['duration_s']:.2f}"),
        ("total input tokens", f"{run['total_input_tokens']}"),
        ("total generated tokens", f"{run['total_output_tokens']}"),
        ("request throughput (req/s)", f"{run['request_throughput']:.2f}"),
        ("output token throughput (tok/s)", f"{run['output_throughput']:.2f}"),
        ("total token throughput (tok/s)", f"{run['total_token_throughput']:.2f}"),
    ]
    if "goodput" in run:
        rows.append(("goodput (req/s)", f"{run['goodput']:.2f}"))
    for name, label in (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2el", "E2E latency")):
        for stat in ("mean", "median", "p90", "p99"):
            rows.append((f"{label} {stat} (ms)", f"{run[f'{stat}_{name}_ms']:.2f}"))
    for metric, value in rows:
        table.add_row(metric, value)
    return table


def write_json(path: Path, runs: list[dict], config: dict) -> Path:
    """The runs and the settings that produced them, written atomically."""
    text = json.dumps({"config": config, "runs": runs}, indent=2, default=str)
    return atomic_write_text(path, text + "\n")


def plot_latency_vs_throughput(path: Path, runs: list[dict]) -> Path:
    """One point per run: output tokens/s against TTFT p50/p99 and TPOT p50, labelled by request rate."""
    from glossa.plots import new_figure, save_figure

    figure, axes = new_figure()
    ordered = sorted(runs, key=lambda run: run["output_throughput"])
    throughput = [run["output_throughput"] for run in ordered]
    for key, label in PLOTTED:
        axes.plot(throughput, [run[key] for run in ordered], marker="o", label=label)
    for run in ordered:
        axes.annotate(
            f"{_rate(run['request_rate'])}/s",
            (run["output_throughput"], run["p99_ttft_ms"]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    axes.set_xlabel("output throughput (tokens/s)")
    axes.set_ylabel("latency (ms)")
    axes.set_yscale("log")
    axes.set_title(f"latency vs throughput · {ordered[0]['model']}")
    axes.legend()
    return save_figure(figure, path)

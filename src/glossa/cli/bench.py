"""`glossa bench serve`: vLLM's `bench serve` against any OpenAI-compatible server (glossa's or another).

    glossa bench serve --url http://127.0.0.1:8000 --num-prompts 64 --request-rate 4 --max-concurrency 16
    glossa bench serve --url http://127.0.0.1:8000 --request-rate 1 --request-rate 4 --request-rate inf \\
        --goodput ttft:500 --goodput tpot:60 --out runs/bench/serve.json

It joins the `glossa bench` group that `glossa.cli.generate` creates (engine latency and throughput), so
every benchmark is under one name. One table per request rate; `--out` writes the JSON, and with several rates
a latency-versus-throughput PNG next to it. The heavy imports happen inside the command.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from glossa.cli.console import console
from glossa.errors import GlossaError


def register(app: typer.Typer) -> None:
    """Add `glossa bench serve` to the `glossa bench` group."""
    from glossa.cli.generate import bench_app

    bench_app.command("serve")(bench_serve)


def _parse_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise GlossaError(f"--request-rate '{text}' is not a number (use inf to send all at once)") from None
    if not rate > 0:
        raise GlossaError(f"--request-rate must be > 0 requests per second, got {text}")
    return rate


def bench_serve(
    url: Annotated[str, typer.Option(help="Base URL of the server, e.g. http://127.0.0.1:8000.")],
    num_prompts: Annotated[int, typer.Option(help="Requests per run.")] = 32,
    request_rate: Annotated[
        list[str] | None,
        typer.Option(help="Poisson arrival rate in requests/s (inf: all at once); repeatable."),
    ] = None,
    max_concurrency: Annotated[int | None, typer.Option(help="Most requests in flight at once.")] = None,
    model: Annotated[str | None, typer.Option(help="Model to ask for (default: the server's first).")] = None,
    max_tokens: Annotated[int, typer.Option(help="Output tokens per request (ignore_eos).")] = 64,
    prompt_chars: Annotated[int, typer.Option(help="Characters per prompt slice.")] = 400,
    dataset: Annotated[Path | None, typer.Option(help="Text file to slice, or JSONL with 'prompt'.")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="Bearer key for the server.", envvar="OPENAI_API_KEY")
    ] = None,
    endpoint: Annotated[str, typer.Option(help="completions or chat.")] = "completions",
    goodput: Annotated[
        list[str] | None, typer.Option(help="SLO NAME:MS (ttft, tpot, e2el) for goodput; repeatable.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the prompt slices and arrival times.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the results as JSON here (and a PNG plot).")] = None,
) -> None:
    """Load a server with streamed requests (Poisson arrivals, bounded concurrency): TTFT, TPOT, ITL."""
    import asyncio

    from glossa.serve.bench import BenchConfig, run_benchmark
    from glossa.serve.bench_metrics import parse_slos
    from glossa.serve.bench_report import plot_latency_vs_throughput, run_table, write_json

    if not url.startswith(("http://", "https://")):
        raise GlossaError(f"--url must start with http:// or https://, got '{url}'")
    if max_tokens < 1:
        raise GlossaError(f"--max-tokens must be at least 1, got {max_tokens}")
    if prompt_chars < 1:
        raise GlossaError(f"--prompt-chars must be at least 1, got {prompt_chars}")
    rates = tuple(_parse_rate(rate) for rate in (request_rate or ["inf"]))
    config = BenchConfig(
        url=url,
        num_prompts=num_prompts,
        request_rates=rates,
        max_concurrency=max_concurrency,
        model=model,
        max_tokens=max_tokens,
        prompt_chars=prompt_chars,
        dataset=dataset,
        api_key=api_key,
        endpoint=endpoint,
        slos=parse_slos(goodput or []),
        seed=seed,
    )
    runs = asyncio.run(run_benchmark(config, on_run=lambda run: console.print(run_table(run))))
    if out is not None:
        settings = {
            "url": url,
            "num_prompts": num_prompts,
            "request_rates": ["inf" if math.isinf(rate) else rate for rate in rates],
            "max_concurrency": max_concurrency,
            "max_tokens": max_tokens,
            "prompt_chars": prompt_chars,
            "endpoint": endpoint,
            "dataset": str(dataset) if dataset else None,
            "seed": seed,
        }
        console.print(f"results: {write_json(out, runs, settings)}")
        if len(runs) > 1:
            console.print(f"plot: {plot_latency_vs_throughput(out.with_suffix('.png'), runs)}")

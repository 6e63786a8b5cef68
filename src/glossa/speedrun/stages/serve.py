"""Stage 7: serve the trained model behind the OpenAI-compatible API and benchmark it as a client would.

The model folder the pretraining stage wrote (weights, config and tokenizer.json) is registered, with its
checksum, in a model registry kept inside the run (`serve/registry.db`, models confined to the run's folder),
then loaded by `glossa serve`'s own app (`glossa.serve.app.create_app`) on a free loopback port; `glossa
bench serve`'s client
(`glossa.serve.bench`) then streams completions for held-out scenes, all at once up to a concurrency limit,
and measures what a user feels: time to first token, time per output token, and throughput. The server is
stopped at the end of the stage; the report prints the `glossa serve` command that serves the same model
for good, and `glossa speedrun --serve` runs it when the card is written.
"""

from __future__ import annotations

import asyncio
import json
import math

from glossa.atomic import atomic_write_text
from glossa.serve.app import create_app
from glossa.serve.bench import BenchConfig, run_benchmark
from glossa.serve.config import ServeConfig
from glossa.serve.registry import ModelRegistry
from glossa.serve.server import ServerThread
from glossa.speedrun.frame import ReportSection, Run

CONCURRENCY = 4
MODEL_NAME = "speedrun"


def serve_config(run: Run, **overrides) -> ServeConfig:
    """The config that serves this run's model from the run's own registry."""
    budget = run.artifacts["budget"]
    settings = dict(
        models=(MODEL_NAME,),
        registry_path=run.run_dir / "serve" / "registry.db",
        model_roots=(run.run_dir,),
        max_num_seqs=CONCURRENCY * 2,
        max_model_len=budget.seq_len,
        max_tokens=budget.serve_tokens,
    )
    return ServeConfig(**(settings | overrides))


def serve_command(run: Run) -> str:
    config = serve_config(run)
    return (
        f"glossa serve --model {MODEL_NAME} --registry {config.registry_path} --root {run.run_dir} "
        f"--max-model-len {config.max_model_len}"
    )


def serve_and_benchmark(run: Run) -> ReportSection:
    budget = run.artifacts["budget"]
    model_dir = run.artifacts["model_dir"]
    prompts_path = run.run_dir / "serve" / "prompts.jsonl"
    test_scenes = run.run_dir / "data" / "prepared" / "clean" / "test.jsonl"
    rows = [json.loads(line)["text"] for line in test_scenes.read_text(encoding="utf-8").splitlines()]
    tokenizer = run.artifacts["tokenizer"]
    prompt_tokens = max(4, (budget.seq_len - budget.serve_tokens) // 2)  # room left for re-encoding drift
    prompts = [tokenizer.decode(tokenizer.encode(text)[:prompt_tokens]) for text in rows if text.strip()]
    atomic_write_text(prompts_path, "".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    num_prompts = max(CONCURRENCY, budget.serve_requests)
    config = serve_config(run, access_log=False)
    ModelRegistry(config.registry_path, config.model_roots).add(MODEL_NAME, model_dir, version=run.run_id)
    run.status(f"serving {model_dir.name} and streaming {num_prompts} requests")
    with ServerThread(create_app(config)) as server:
        bench = BenchConfig(
            url=server.url,
            num_prompts=num_prompts,
            request_rates=(math.inf,),
            max_concurrency=CONCURRENCY,
            max_tokens=budget.serve_tokens,
            dataset=prompts_path,
        )
        (result,) = asyncio.run(run_benchmark(bench))
    atomic_write_text(run.run_dir / "serve" / "bench.json", json.dumps(result, indent=2) + "\n")
    body = "\n".join(
        [
            f"`glossa serve` loaded `{model_dir.relative_to(run.run_dir)}` on {server.url}, and "
            f"`glossa bench serve`'s client streamed {num_prompts} completions of {budget.serve_tokens} "
            f"tokens (greedy; prompts: the first {prompt_tokens} tokens of test scenes), {CONCURRENCY} at "
            "a time.",
            "",
            "| | value |",
            "|---|---:|",
            f"| completed / failed | {result['completed']} / {result['failed']} |",
            f"| time to first token, median / p99 | {result['median_ttft_ms']:.1f} / "
            f"{result['p99_ttft_ms']:.1f} ms |",
            f"| time per output token, median | {result['median_tpot_ms']:.2f} ms |",
            f"| output throughput | {result['output_throughput']:.1f} tokens/s |",
            f"| requests/s | {result['request_throughput']:.2f} |",
            "",
            f"Serve it yourself: `{serve_command(run)}`, then point any OpenAI client at "
            "`http://127.0.0.1:8000/v1`, or open the chat page at `http://127.0.0.1:8000/`.",
        ]
    )
    return ReportSection(
        "Serving: the model behind an OpenAI-compatible API",
        body,
        metrics={
            "completed": result["completed"],
            "failed": result["failed"],
            "median_ttft_ms": round(result["median_ttft_ms"], 2),
            "p99_ttft_ms": round(result["p99_ttft_ms"], 2),
            "median_tpot_ms": round(result["median_tpot_ms"], 3),
            "output_tokens_per_s": round(result["output_throughput"], 2),
        },
    )

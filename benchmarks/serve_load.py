"""Load test of `glossa serve`: 64 concurrent streaming chat clients for N seconds, then a health check.

A real server process (`python -m glossa serve`, SmolLM2, API key on) on a free loopback port; `--clients`
asyncio clients (httpx, one connection each) send streaming chat requests back to back for `--seconds`,
prompts drawn from tiny Shakespeare. Afterwards:

- errors (non-200 answers, streams without `data: [DONE]`, transport errors) and lost requests (sent but
  neither answered nor failed): both must be 0;
- TTFT, inter-token latency and end-to-end latency (mean, p50, p99, as `vllm bench serve` prints them),
  requests/s and output tokens/s;
- the server's RSS before the load (after one warm-up request) and after it: growth should be small;
- the block pool full again: /metrics shows `kv_cache_usage_perc` 0 and no request running or waiting.

`--compare-drivers` adds an in-process comparison of the two ways to drive the engine from asyncio, with the
same 16 concurrent streams: `Engine.astream` (each stream steps through `asyncio.to_thread`, add/abort take
the engine lock on the event loop) against `EngineLoop` (one engine thread, queues back): tokens/s, mean
batch size (generated tokens / steps) and the event loop's worst stall (a 10 ms ticker's largest lateness).

    .venv/bin/python benchmarks/serve_load.py --seconds 60 --clients 64
    .venv/bin/python benchmarks/serve_load.py --seconds 20 --compare-drivers
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from glossa.infer.metrics import summarize
from glossa.serve.server import free_port

KEY = "bench-key"
SHAKESPEARE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"


def prompts(count: int = 512, seed: int = 0) -> list[str]:
    lines = [line for line in SHAKESPEARE.read_text(encoding="utf-8").splitlines() if len(line) > 20]
    rng = random.Random(seed)
    return [f"Continue this line of a play: {rng.choice(lines)}" for _ in range(count)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Tally:
    def __init__(self) -> None:
        self.sent = self.done = self.errors = self.tokens = 0
        self.ttft: list[float] = []
        self.itl: list[float] = []
        self.e2e: list[float] = []
        self.error_kinds: dict[str, int] = {}

    def fail(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def one_client(
    client: httpx.AsyncClient, url: str, texts: list[str], stop_at: float, tally: Tally, max_tokens: int
):
    rng = random.Random(id(client) ^ int(stop_at))
    headers = {"Authorization": f"Bearer {KEY}"}
    while time.monotonic() < stop_at:
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": rng.choice(texts)}],
            "max_tokens": max_tokens,
            "temperature": 0.7,
            "stream": True,
        }
        tally.sent += 1
        start = time.perf_counter()
        times: list[float] = []
        finished = False
        try:
            async with client.stream("POST", url, json=body, headers=headers) as response:
                if response.status_code != 200:
                    await response.aread()
                    tally.fail(f"status {response.status_code}")
                    continue
                async for line in response.aiter_lines():
                    if line == "data: [DONE]":
                        finished = True
                    elif line.startswith("data: "):
                        chunk = json.loads(line[6:])
                        if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                            times.append(time.perf_counter())
        except httpx.HTTPError as error:
            tally.fail(type(error).__name__)
            continue
        if not finished:
            tally.fail("stream without [DONE]")
            continue
        tally.done += 1
        tally.tokens += len(times)
        if times:
            tally.ttft.append(times[0] - start)
            tally.itl.extend(b - a for a, b in itertools.pairwise(times))
        tally.e2e.append(time.perf_counter() - start)


async def load(url: str, clients: int, seconds: float, max_tokens: int) -> tuple[Tally, float]:
    tally, texts = Tally(), prompts()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600), limits=limits) as client:
        start = time.monotonic()
        stop_at = start + seconds
        await asyncio.gather(
            *(one_client(client, url, texts, stop_at, tally, max_tokens) for _ in range(clients))
        )
        return tally, time.monotonic() - start


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(url + "/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become healthy")


def gauge(metrics: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(name + "{")]
    return sum(values)


def row(name: str, values: list[float], scale: float = 1000.0) -> str:
    stats = summarize(values)
    return (
        f"| {name} | {stats['mean'] * scale:.1f} | {stats['p50'] * scale:.1f} | {stats['p99'] * scale:.1f} |"
    )


def run_server_load(args: argparse.Namespace) -> bool:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "glossa",
        "serve",
        "--port",
        str(port),
        "--max-num-seqs",
        str(args.max_num_seqs),
    ]
    command += ["--max-queue", str(args.clients), "--max-model-len", "1024", "--threads", str(args.threads)]
    log = Path(tempfile.mkdtemp()) / "serve.log"
    env = {**os.environ, "GLOSSA_API_KEYS": KEY}
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink, env=env)
    try:
        wait_healthy(url, process)
        warm = {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        httpx.post(
            url + "/v1/chat/completions", json=warm, headers={"Authorization": f"Bearer {KEY}"}, timeout=300
        )
        rss_before = rss_mb(process.pid)
        tally, elapsed = asyncio.run(
            load(url + "/v1/chat/completions", args.clients, args.seconds, args.max_tokens)
        )
        deadline = time.monotonic() + 30
        while True:
            metrics = httpx.get(url + "/metrics").text
            busy = gauge(metrics, "glossa:num_requests_running") + gauge(
                metrics, "glossa:num_requests_waiting"
            )
            kv = gauge(metrics, "glossa:kv_cache_usage_perc")
            if (busy == 0 and kv == 0) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        rss_after = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=120)
    lost = tally.sent - tally.done - tally.errors
    machine = f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    kinds = f" {tally.error_kinds}" if tally.error_kinds else ""
    print(f"\n## glossa serve under load: {args.clients} streaming clients, {elapsed:.0f} s ({machine})")
    print(f"\nrequests sent {tally.sent}, completed {tally.done}, errors {tally.errors}{kinds}, lost {lost}")
    print(f"throughput: {tally.done / elapsed:.2f} requests/s, {tally.tokens / elapsed:.1f} output tokens/s")
    print("\n| latency (ms) | mean | p50 | p99 |\n|---|---:|---:|---:|")
    print(row("TTFT", tally.ttft))
    print(row("ITL", tally.itl))
    print(row("E2E", tally.e2e))
    growth = rss_after - rss_before
    print(
        f"\nserver RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after ({growth:+.0f} MB); log: {log}"
    )
    print(f"after the run: KV cache usage {kv:.3f}, requests running + waiting {busy:.0f}")
    return tally.errors == 0 and lost == 0 and kv == 0 and busy == 0


async def drive(engine, mode: str, prompt_ids: list[list[int]], max_tokens: int) -> dict[str, float]:
    from glossa.infer.params import SamplingParams
    from glossa.serve.engine_loop import ADMITTED, EngineLoop

    params = SamplingParams(max_tokens=max_tokens, temperature=0.7, ignore_eos=True)
    lateness: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lateness.append(time.perf_counter() - before - 0.01)

    async def via_astream(ids: list[int]) -> int:
        tokens = 0
        async for output in engine.astream(ids, params):
            tokens = len(output.outputs[0].token_ids)
        return tokens

    loop = EngineLoop(engine, "bench")

    async def via_thread(ids: list[int]) -> int:
        queue: asyncio.Queue = asyncio.Queue()
        loop.submit(ids, params, queue)
        while True:
            _, item = await queue.get()
            if item != ADMITTED and item.finished:
                return len(item.outputs[0].token_ids)

    steps, generated = engine.stats.steps, engine.stats.generated_tokens
    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    worker = via_astream if mode == "astream" else via_thread
    tokens = sum(await asyncio.gather(*(worker(ids) for ids in prompt_ids)))
    elapsed = time.perf_counter() - start
    stop.set()
    await tick
    loop.stop()
    batch = (engine.stats.generated_tokens - generated) / max(1, engine.stats.steps - steps)
    return {"tokens_per_s": tokens / elapsed, "mean_batch": batch, "max_stall_ms": max(lateness) * 1000}


def compare_drivers(args: argparse.Namespace) -> None:
    import torch

    import glossa
    from glossa.infer.engine import Engine

    torch.set_num_threads(args.threads)
    tokenizer = glossa.load_tokenizer("smollm2")
    engine = Engine(glossa.load_model("smollm2"), tokenizer, max_num_seqs=16, max_model_len=512)
    ids = [tokenizer.encode(text) for text in prompts(16, seed=1)]
    print("\n## driving the engine from asyncio: 16 concurrent streams, 32 tokens each")
    print("\n| driver | tokens/s | mean batch | worst event-loop stall (ms) |\n|---|---:|---:|---:|")
    for _ in range(2):
        for mode in ("astream", "thread"):
            result = asyncio.run(drive(engine, mode, ids, 32))
            name = "Engine.astream" if mode == "astream" else "EngineLoop thread"
            print(
                f"| {name} | {result['tokens_per_s']:.1f} | {result['mean_batch']:.1f} "
                f"| {result['max_stall_ms']:.0f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--max-num-seqs", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compare-drivers", action="store_true")
    args = parser.parse_args()
    healthy = run_server_load(args)
    if args.compare_drivers:
        compare_drivers(args)
    print("\nresult:", "PASS" if healthy else "FAIL (errors, lost requests or blocks still allocated)")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()

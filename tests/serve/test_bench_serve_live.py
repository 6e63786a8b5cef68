"""`glossa bench serve` against the real server (SmolLM2, API keys on): the JSON it writes holds vLLM's
fields, every request's TTFT is within its end-to-end latency, and the token counts are the server's usage,
which equals glossa's tokenizer on the same prompts."""

from __future__ import annotations

import json

from glossa.serve.bench import sample_prompts

NUM_PROMPTS, MAX_TOKENS, PROMPT_CHARS = 4, 4, 200


def test_bench_serve_against_glossa(server, api_key, pool, run_cli, tmp_path):
    out = tmp_path / "serve.json"
    result = run_cli(
        "bench", "serve", "--url", server.url, "--api-key", api_key, "--num-prompts", str(NUM_PROMPTS),
        "--max-concurrency", "2", "--max-tokens", str(MAX_TOKENS), "--prompt-chars", str(PROMPT_CHARS),
        "--goodput", "ttft:60000 tpot:60000", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [run] = json.loads(out.read_text())["runs"]
    for field in (
        "completed", "failed", "duration_s", "request_throughput", "output_throughput",
        "total_token_throughput",
        "mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "p99_tpot_ms",
        "mean_itl_ms", "p99_itl_ms", "mean_e2el_ms", "p99_e2el_ms", "goodput",
    ):  # fmt: skip
        assert field in run, field
    assert run["completed"] == NUM_PROMPTS and run["failed"] == 0 and run["model"] == "smollm2"
    assert run["goodput"] == run["request_throughput"]  # generous SLOs: every request meets them
    for request in run["per_request"]:
        assert 0 < request["ttft_s"] <= request["e2el_s"]
        assert request["output_tokens"] == MAX_TOKENS  # from the usage chunk; ignore_eos makes it exact
        assert 1 <= request["chunks"] <= request["output_tokens"]
    tokenizer = pool.get("smollm2").tokenizer
    prompts = sample_prompts(NUM_PROMPTS, PROMPT_CHARS)
    assert run["total_input_tokens"] == sum(len(tokenizer.encode(prompt)) for prompt in prompts)
    assert run["p99_ttft_ms"] <= run["p99_e2el_ms"]

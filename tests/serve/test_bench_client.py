"""`glossa bench serve` against a scripted streaming server: arrivals, concurrency, timing and the report.

The fake server streams `max_tokens` text chunks a few milliseconds apart and a final usage chunk, in
OpenAI's SSE format, and records how many requests it had in flight at once, so the client's semaphore, its
TTFT/ITL/TPOT arithmetic, the usage-based token counts and the JSON/PNG outputs are checked without a model.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from glossa.errors import GlossaError
from glossa.serve.bench import BenchConfig, arrival_gaps, run_benchmark, sample_prompts
from glossa.serve.bench_metrics import RequestResult, parse_slos, summarise

CHUNK_GAP_S = 0.004


def fake_openai_server() -> FastAPI:
    app = FastAPI()
    app.state.in_flight = 0
    app.state.most_in_flight = 0

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": "fake", "object": "model"}]}

    @app.post("/v1/completions")
    async def completions(request: Request) -> StreamingResponse:
        body = await request.json()
        assert body["stream"] and body["stream_options"] == {"include_usage": True}

        async def events():
            app.state.in_flight += 1
            app.state.most_in_flight = max(app.state.most_in_flight, app.state.in_flight)
            try:
                for index in range(body["max_tokens"]):
                    await asyncio.sleep(CHUNK_GAP_S)
                    chunk = {"object": "text_completion", "choices": [{"index": 0, "text": f"t{index} "}]}
                    yield f"data: {json.dumps(chunk)}\n\n"
                usage = {
                    "prompt_tokens": len(body["prompt"].split()),
                    "completion_tokens": body["max_tokens"],
                }
                yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"
            finally:
                app.state.in_flight -= 1

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def fake_server():
    app = fake_openai_server()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the fake server did not start"
        time.sleep(0.02)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_bounded_concurrency_timing_and_usage_counts(fake_server):
    app, url = fake_server
    app.state.most_in_flight = 0
    config = BenchConfig(url=url, num_prompts=12, max_concurrency=3, max_tokens=5, prompt_chars=120)
    [run] = asyncio.run(run_benchmark(config))
    assert run["completed"] == 12 and run["failed"] == 0 and run["model"] == "fake"
    assert app.state.most_in_flight == 3
    assert run["total_output_tokens"] == 12 * 5
    assert run["total_input_tokens"] == sum(len(p.split()) for p in sample_prompts(12, 120))
    for request in run["per_request"]:
        assert 0 < request["ttft_s"] <= request["e2el_s"]
        assert request["output_tokens"] == request["chunks"] == 5
    assert run["median_itl_ms"] >= CHUNK_GAP_S * 1000 * 0.5
    assert run["output_throughput"] == pytest.approx(60 / run["duration_s"])


def test_tpot_percentiles_and_goodput_follow_the_definitions():
    results = [
        RequestResult(success=True, output_tokens=11, ttft=0.1, e2el=1.1, itl=[0.1] * 10),
        RequestResult(success=True, output_tokens=11, ttft=0.9, e2el=2.9, itl=[0.2] * 10),
        RequestResult(success=True, output_tokens=1, ttft=0.2, e2el=0.2),
        RequestResult(error="HTTP 503: overloaded"),
    ]
    summary = summarise(results, duration=2.0, slos=parse_slos(["ttft:500 tpot:150"]))
    assert results[0].tpot == pytest.approx(0.1) and results[2].tpot is None
    assert summary["completed"] == 3 and summary["failed"] == 1
    assert summary["mean_tpot_ms"] == pytest.approx(150.0)  # (100 + 200) / 2; one-token requests have none
    assert summary["median_ttft_ms"] == pytest.approx(200.0)
    assert summary["goodput"] == pytest.approx(2 / 2.0)  # the slow request breaks both SLOs
    assert summary["errors"] == ["HTTP 503: overloaded"]


def test_poisson_arrivals_have_mean_gap_one_over_rate():
    gaps = arrival_gaps(4000, rate=10.0, seed=3)
    assert gaps[0] == 0 and gaps == arrival_gaps(4000, rate=10.0, seed=3)
    mean = sum(gaps[1:]) / len(gaps[1:])
    assert mean == pytest.approx(0.1, rel=0.06)
    variance = sum((g - mean) ** 2 for g in gaps[1:]) / len(gaps[1:])
    assert math.sqrt(variance) == pytest.approx(0.1, rel=0.1)  # exponential: std = mean
    assert arrival_gaps(5, rate=math.inf) == [0.0] * 5


@pytest.mark.parametrize("spec", ["ttft", "latency:50", "ttft:fast", "tpot:-1"])
def test_bad_slos_are_rejected(spec):
    with pytest.raises(GlossaError, match="SLO"):
        parse_slos([spec])


def test_cli_writes_json_and_a_plot_for_several_rates(fake_server, run_cli, tmp_path):
    _, url = fake_server
    out = tmp_path / "bench" / "serve.json"
    result = run_cli(
        "bench", "serve", "--url", url, "--num-prompts", "6", "--request-rate", "40", "--request-rate", "inf",
        "--max-concurrency", "2", "--max-tokens", "4", "--goodput", "ttft:2000", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "output token throughput" in result.stdout and "TTFT p99" in result.stdout
    data = json.loads(out.read_text())
    assert [run["request_rate"] for run in data["runs"]] == [40.0, "inf"]
    for run in data["runs"]:
        assert run["completed"] == 6 and run["total_output_tokens"] == 24 and run["goodput"] > 0
        for key in ("mean_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "p90_itl_ms", "request_throughput"):
            assert run[key] >= 0
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_cli_user_mistakes_are_one_line_errors(run_cli, one_line_error, fake_server):
    _, url = fake_server
    one_line_error(run_cli("bench", "serve", "--url", "localhost:8000"))
    one_line_error(run_cli("bench", "serve", "--url", url, "--request-rate", "0"))
    one_line_error(
        run_cli("bench", "serve", "--url", f"http://127.0.0.1:{free_port()}", "--num-prompts", "1")
    )


def test_jsonl_datasets_give_their_prompts_and_bad_lines_name_their_place(tmp_path):
    good = tmp_path / "prompts.jsonl"
    good.write_text('{"prompt": "Hello"}\n\n{"prompt": "World"}\n')
    assert sample_prompts(3, 400, good) == ["Hello", "World", "Hello"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "Hello"}\n{"text": "no prompt"}\n')
    with pytest.raises(GlossaError, match=r"bad.jsonl:2"):
        sample_prompts(2, 400, bad)
    with pytest.raises(GlossaError, match="not a file"):
        sample_prompts(2, 400, tmp_path / "missing.txt")
    plain = sample_prompts(5, 200, seed=1)
    assert plain == sample_prompts(5, 200, seed=1) and all(0 < len(p) <= 200 for p in plain)

"""Serving metrics (TTFT, TPOT, ITL, latency, queue time; engine gauges), the async stream, and the CLI's
bad-input paths (no model is loaded for those)."""

import asyncio

import pytest
import typer
from typer.testing import CliRunner

from glossa.errors import GlossaError
from glossa.infer.engine import Engine
from glossa.infer.metrics import RequestMetrics, summarize, throughput
from glossa.infer.params import SamplingParams

GREEDY = SamplingParams(temperature=0, max_tokens=5, ignore_eos=True)


def test_request_metrics_definitions():
    m = RequestMetrics(arrival_time=10.0, first_scheduled_time=10.5, prompt_tokens=7)
    for t in (11.0, 11.5, 12.5):
        m.record_token(t)
    m.finished_time = 12.5
    assert m.queue_time == 0.5 and m.ttft == 1.0 and m.e2e_latency == 2.5
    assert m.inter_token_latencies == [0.5, 1.0] and m.tpot == 0.75
    assert m.generated_tokens == 3
    rates = throughput([m, m], start=10.0, end=12.0)
    assert rates["requests_per_s"] == 1.0 and rates["output_tokens_per_s"] == 3.0
    assert rates["total_tokens_per_s"] == 10.0
    assert summarize([1.0, 2.0, 3.0]) == {"mean": 2.0, "p50": 2.0, "p99": 3.0}
    assert RequestMetrics(arrival_time=0).tpot is None


def test_engine_gauges_and_per_request_metrics(tiny_model):
    engine = Engine(tiny_model, max_num_seqs=2, num_blocks=16)
    for prompt in ([1, 2, 3], [4, 5], [6]):
        engine.add_request(prompt, GREEDY)
    engine.step()
    assert engine.stats.num_running == 2 and engine.stats.num_waiting == 1
    assert engine.stats.kv_blocks_used == 2 and 0 < engine.stats.kv_cache_usage < 1
    finals = []
    while engine.has_unfinished_requests():
        finals += [o for o in engine.step() if o.finished]
    assert len(finals) == 3 and engine.stats.kv_blocks_used == 0
    waited = next(o for o in finals if o.prompt_token_ids == [6]).metrics
    assert waited.queue_time > 0 and waited.ttft >= waited.queue_time
    assert all(o.metrics.generated_tokens == 5 and o.metrics.tpot > 0 for o in finals)


def test_async_streams_run_concurrently(tiny_model):
    engine = Engine(tiny_model, num_blocks=16)

    async def collect(prompt):
        return [out async for out in engine.astream(prompt, GREEDY)]

    async def main():
        return await asyncio.gather(collect([1, 2]), collect([3, 4, 5]))

    first, second = asyncio.run(main())
    assert first[-1].finished and second[-1].finished
    assert len(first[-1].token_ids) == 5 and len(second[-1].token_ids) == 5
    assert engine.generate([[1, 2]], GREEDY)[0].token_ids == first[-1].token_ids


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "hi", "--precision", "fp64"], "unknown precision"),
        (["generate", "hi", "--speculative", "magic"], "unknown --speculative"),
        (["bench", "latency", "--batch-size", "0"], "at least 1"),
        (["bench", "throughput", "-n", "0"], "at least 1"),
    ],
)
def test_cli_bad_input_is_a_glossa_error(args, message):
    from glossa.cli import generate

    app = typer.Typer()
    generate.register(app)
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, GlossaError) and message in str(result.exception)

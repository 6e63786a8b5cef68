"""The engine on the real SmolLM2-135M-Instruct: greedy output with the paged cache equals decoding without
any cache, concurrent requests equal their solo outputs, text, stop strings, chat template and metrics."""

import importlib.util
from pathlib import Path

import pytest

from glossa.errors import GlossaError
from glossa.infer.engine import Engine
from glossa.infer.params import SamplingParams

_spec = importlib.util.spec_from_file_location("infer_conftest", Path(__file__).parent / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


@pytest.fixture(scope="module")
def engine(smollm2_model, smollm2_tokenizer):
    return Engine(
        smollm2_model, smollm2_tokenizer, max_num_seqs=4, max_num_batched_tokens=64, max_model_len=256
    )


def test_greedy_16_tokens_equal_decoding_without_a_cache(engine, smollm2_model, smollm2_tokenizer):
    prompt = smollm2_tokenizer.encode("The three primary colors are")
    out = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=16, ignore_eos=True))[0]
    assert out.token_ids == helpers.greedy_reference(smollm2_model, prompt, 16)
    assert out.text == smollm2_tokenizer.decode(out.token_ids)


def test_concurrent_requests_equal_their_solo_outputs(engine, smollm2_tokenizer):
    texts = ["Paris is the capital of", "def fibonacci(n):", "Once upon a time, a small robot"]
    params = SamplingParams(temperature=0, max_tokens=6, ignore_eos=True)
    solo = [engine.generate([text], params)[0].token_ids for text in texts]
    together = engine.generate(texts, params)  # the prompts are chunked (budget 64) and batched together
    assert [o.token_ids for o in together] == solo
    assert engine.cache.num_free_blocks == engine.cache.num_blocks


def test_chat_stop_strings_streaming_and_metrics(engine, smollm2_tokenizer):
    chat = smollm2_tokenizer.apply_chat_template([{"role": "user", "content": "Count: one, two, three,"}])
    params = SamplingParams(temperature=0, max_tokens=12, stop=["four"])
    pieces = list(engine.stream(chat, params))
    final = pieces[-1]
    assert final.finished
    assert "".join(p.outputs[0].delta_text for p in pieces) == final.text
    assert "four" not in final.text
    metrics = final.metrics
    assert metrics.ttft is not None and metrics.ttft > 0 and metrics.queue_time is not None
    assert metrics.e2e_latency >= metrics.ttft
    if len(final.token_ids) > 1:
        assert metrics.tpot > 0 and len(metrics.inter_token_latencies) == len(final.token_ids) - 1


def test_a_prompt_longer_than_the_context_names_both_numbers(engine, smollm2_tokenizer):
    with pytest.raises(GlossaError, match=r"300 tokens.* 256"):
        engine.add_request([42] * 300, SamplingParams())
    assert not engine.has_unfinished_requests()
    assert engine.cache.num_free_blocks == engine.cache.num_blocks

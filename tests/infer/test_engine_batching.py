"""The engine on a tiny model: greedy with the paged cache equals no cache, 32 concurrent requests of mixed
lengths (chunked prefill, preemption) each give exactly their solo output, n samples and shared prefixes
compute the prompt once, aborts and errors leave the block pool full."""

import importlib.util
from pathlib import Path

import pytest

from glossa.errors import GlossaError
from glossa.infer.engine import Engine
from glossa.infer.params import SamplingParams

_spec = importlib.util.spec_from_file_location("infer_conftest", Path(__file__).parent / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

GREEDY = SamplingParams(temperature=0, max_tokens=24, ignore_eos=True)


def test_greedy_128_tokens_with_paged_cache_equal_no_cache():
    model = helpers.build_tiny(seed=12, context_length=256)
    prompt = helpers.random_prompts(1, 30, 30)[0]
    engine = Engine(model, max_num_seqs=4, max_num_batched_tokens=64, num_blocks=16)
    out = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=128, ignore_eos=True))[0]
    assert out.token_ids == helpers.greedy_reference(model, prompt, 128)
    assert out.outputs[0].finish_reason == "length"


def test_32_concurrent_requests_equal_their_solo_outputs_and_free_every_block(tiny_model):
    prompts = helpers.random_prompts(32, 1, 70, seed=7)
    solo = []
    for prompt in prompts:
        alone = Engine(tiny_model, max_num_seqs=1, max_num_batched_tokens=128, num_blocks=8)
        solo.append(alone.generate([prompt], GREEDY)[0].token_ids)
    # a small token budget (chunked prefill) and a small pool (preemption by recomputation)
    engine = Engine(tiny_model, max_num_seqs=32, max_num_batched_tokens=48, num_blocks=40)
    outputs = engine.generate(prompts, GREEDY)
    assert [o.token_ids for o in outputs] == solo
    assert engine.stats.num_preemptions > 0
    assert engine.cache.num_free_blocks == engine.cache.num_blocks
    assert all(n == 0 for n in engine.cache.ref_counts)
    assert solo[0] == helpers.greedy_reference(tiny_model, prompts[0], 24)


def test_a_shared_prefix_is_computed_once(tiny_model):
    prefix = helpers.random_prompts(1, 48, 48, seed=3)[0]
    a, b = [*prefix, 1, 2, 3], [*prefix, 4, 5]
    plain = Engine(tiny_model, num_blocks=32, enable_prefix_caching=False)
    expected = [o.token_ids for o in plain.generate([a, b], GREEDY)]
    engine = Engine(tiny_model, num_blocks=32)
    first = engine.generate([a], GREEDY)[0]
    computed_before = engine.stats.prompt_tokens_computed
    second = engine.generate([b], GREEDY)[0]
    assert engine.stats.prompt_tokens_computed - computed_before == len(b) - 48  # 3 full blocks were cached
    assert second.num_cached_tokens == 48
    assert [first.token_ids, second.token_ids] == expected
    assert engine.stats.prefix_cache_hit_rate > 0


def test_n_samples_share_one_prefill(tiny_model):
    prompt = helpers.random_prompts(1, 37, 37, seed=5)[0]
    engine = Engine(tiny_model, num_blocks=32)
    params = SamplingParams(n=4, temperature=1.0, max_tokens=8, seed=11, ignore_eos=True)
    out = engine.generate([prompt], params)[0]
    assert engine.stats.prompt_tokens_computed == len(prompt)
    assert [c.index for c in out.outputs] == [0, 1, 2, 3]
    assert all(len(c.token_ids) == 8 for c in out.outputs)
    assert len({tuple(c.token_ids) for c in out.outputs}) > 1
    assert engine.cache.num_free_blocks == engine.cache.num_blocks
    greedy = engine.generate([prompt], SamplingParams(n=3, temperature=0, max_tokens=8, ignore_eos=True))[0]
    assert all(c.token_ids == helpers.greedy_reference(tiny_model, prompt, 8) for c in greedy.outputs)


def test_abort_at_any_time_frees_blocks_at_once(tiny_model):
    engine = Engine(tiny_model, max_num_seqs=4, max_num_batched_tokens=16, num_blocks=32)
    ids = [engine.add_request(p, GREEDY) for p in helpers.random_prompts(6, 20, 50)]
    engine.step()  # some prefilling, some waiting
    assert engine.cache.num_free_blocks < engine.cache.num_blocks
    engine.abort(ids[0])  # running
    engine.abort(ids[5])  # still waiting
    for _ in range(5):
        engine.step()
    for request_id in ids[1:5]:
        assert engine.abort(request_id)
    assert not engine.abort("no such id")
    assert not engine.has_unfinished_requests()
    assert engine.cache.num_free_blocks == engine.cache.num_blocks


def test_stream_yields_deltas_that_add_up(tiny_model):
    engine = Engine(tiny_model, num_blocks=16)
    pieces = list(engine.stream([3, 4, 5], GREEDY))
    assert pieces[-1].finished and not any(p.finished for p in pieces[:-1])
    streamed = [token for piece in pieces for token in piece.outputs[0].delta_token_ids]
    assert streamed == pieces[-1].token_ids
    closed = engine.stream([3, 4, 5], GREEDY)
    next(closed)
    closed.close()  # a client that disconnects: the request is aborted
    assert engine.cache.num_free_blocks == engine.cache.num_blocks


def test_bad_input_is_refused_clearly_and_allocates_nothing(tiny_model):
    engine = Engine(tiny_model, max_model_len=64, num_blocks=16)
    with pytest.raises(GlossaError, match=r"100 tokens.*64"):
        engine.add_request(list(range(100)), GREEDY)
    with pytest.raises(GlossaError, match="max_tokens"):
        SamplingParams(max_tokens=0)
    with pytest.raises(GlossaError, match="empty"):
        engine.add_request([], GREEDY)
    with pytest.raises(GlossaError, match=r"\[0, 256\)"):
        engine.add_request([1, 999], GREEDY)
    with pytest.raises(GlossaError, match="tokenizer"):
        engine.add_request("text without a tokenizer", GREEDY)
    with pytest.raises(GlossaError, match="prompts"):
        engine.generate([[1], [2]], [GREEDY])
    with pytest.raises(GlossaError, match="already"):
        engine.add_request([1], GREEDY, request_id="x")
        engine.add_request([1], GREEDY, request_id="x")
    engine.abort("x")
    truncated = engine.add_request(list(range(100)), GREEDY, truncate_prompt_tokens=True)
    assert len(engine._groups[truncated][0].prompt_ids) == 63
    engine.abort(truncated)
    assert not engine.has_unfinished_requests()
    assert engine.cache.num_free_blocks == engine.cache.num_blocks


def test_a_request_always_fits_the_pool_alone(tiny_model):
    with pytest.raises(GlossaError, match=r"max_model_len 128 .* \(64 tokens\)"):
        Engine(tiny_model, max_model_len=128, num_blocks=4)
    engine = Engine(tiny_model, num_blocks=4)  # no max_model_len given: lowered to what the pool holds
    assert engine.max_model_len == 64
    out = engine.generate([list(range(50))], SamplingParams(temperature=0, max_tokens=100, ignore_eos=True))[
        0
    ]
    assert len(out.token_ids) == 14 and out.outputs[0].finish_reason == "length"
    assert engine.cache.num_free_blocks == 4


def test_generation_stops_at_max_model_len(tiny_model):
    engine = Engine(tiny_model, max_model_len=40, num_blocks=16)
    out = engine.generate([list(range(30))], SamplingParams(temperature=0, max_tokens=100, ignore_eos=True))[
        0
    ]
    assert len(out.token_ids) == 10 and out.outputs[0].finish_reason == "length"


def test_logprobs_are_the_models_log_softmax(tiny_model):
    import torch

    engine = Engine(tiny_model, num_blocks=16)
    params = SamplingParams(temperature=0, max_tokens=2, logprobs=2, ignore_eos=True)
    completion = engine.generate([[1, 2, 3]], params)[0].outputs[0]
    with torch.inference_mode():
        expected = tiny_model(torch.tensor([[1, 2, 3]])).logits[0, -1].log_softmax(-1)
    assert completion.token_ids[0] == int(expected.argmax())
    assert abs(completion.logprobs[0] - float(expected.max())) < 1e-4
    top = completion.top_logprobs[0]
    assert len(top) == 2 and next(iter(top)) == completion.token_ids[0]

"""A bf16 KV cache: half the bytes per cached token, requests still independent of their batch, and the
output close to the float32 cache's."""

import importlib.util
from pathlib import Path

import torch

from glossa.infer.engine import Engine
from glossa.infer.params import SamplingParams
from glossa.infer.runner import SequenceChunk

_spec = importlib.util.spec_from_file_location("infer_conftest", Path(__file__).parent / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


def test_a_bf16_cache_keeps_requests_independent_of_their_batch(tiny_model):
    prompts = helpers.random_prompts(10, 1, 50, seed=4)
    greedy = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)
    solo = []
    for prompt in prompts:
        alone = Engine(tiny_model, max_num_seqs=1, num_blocks=8, kv_cache_dtype=torch.bfloat16)
        solo.append(alone.generate([prompt], greedy)[0].token_ids)
    engine = Engine(tiny_model, max_num_seqs=10, max_num_batched_tokens=40, kv_cache_dtype=torch.bfloat16)
    assert engine.cache.keys[0].dtype == torch.bfloat16
    assert [o.token_ids for o in engine.generate(prompts, greedy)] == solo


def test_bf16_cache_logits_stay_close_to_the_float32_cache(tiny_model):
    prompt = helpers.random_prompts(1, 40, 40, seed=5)[0]
    logits = {}
    for dtype in (torch.float32, torch.bfloat16):
        engine = Engine(tiny_model, max_num_seqs=1, kv_cache_dtype=dtype)
        engine.cache.allocate_prompt("s", prompt)
        assert engine.cache.ensure_capacity("s", len(prompt) + 1)
        first = engine.runner.execute([SequenceChunk("s", prompt, 0, "last")])[0]
        step = engine.runner.execute([SequenceChunk("s", [7], len(prompt), "last")])[0]
        logits[dtype] = torch.stack([first, step])
    difference = (logits[torch.bfloat16] - logits[torch.float32]).abs().max()
    assert 0 < float(difference) < 0.05 * float(logits[torch.float32].abs().max())

"""The paged KV cache: same logits as a contiguous cache, reference counts, copy-on-write, prefix caching."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from glossa.errors import GlossaError
from glossa.infer.kv_cache import ContiguousKVCache, PagedKVCache
from glossa.infer.runner import ModelRunner, SequenceChunk

sys.path.insert(0, str(Path(__file__).parent))
_spec = importlib.util.spec_from_file_location("infer_conftest", Path(__file__).parent / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


def _paged(model, num_blocks=64, **kwargs):
    c = model.config
    return PagedKVCache(c.n_layers, c.kv_heads, c.attention_head_dim, num_blocks=num_blocks, **kwargs)


def _run_schedule(model, cache, prompts):
    """Mixed chunked prefill + decode steps; returns every logits row produced, in order."""
    runner = ModelRunner(model, cache)
    for index, ids in enumerate(prompts):
        cache.allocate_prompt(str(index), ids)
        assert cache.ensure_capacity(str(index), len(ids) + 3)
    rows = []
    first = [SequenceChunk(str(i), ids[:5], 0, "all") for i, ids in enumerate(prompts)]
    rows += runner.execute(first)
    rest = [SequenceChunk(str(i), ids[5:], 5, "last") for i, ids in enumerate(prompts)]
    rows += runner.execute(rest)
    decode = [SequenceChunk(str(i), [7], len(ids), "last") for i, ids in enumerate(prompts)]
    rows += runner.execute(decode)
    return rows


def test_paged_and_contiguous_caches_give_identical_logits(tiny_model):
    prompts = helpers.random_prompts(4, 6, 40)
    c = tiny_model.config
    contiguous = ContiguousKVCache(c.n_layers, c.kv_heads, c.attention_head_dim, max_seqs=4, max_len=64)
    paged_rows = _run_schedule(tiny_model, _paged(tiny_model), prompts)
    contiguous_rows = _run_schedule(tiny_model, contiguous, prompts)
    for paged, plain in zip(paged_rows, contiguous_rows, strict=True):
        torch.testing.assert_close(paged, plain, rtol=0, atol=1e-5)
    # and both equal the model's own forward pass without a cache
    full = tiny_model(torch.tensor([prompts[0] + [7]])).logits[0].detach()
    torch.testing.assert_close(paged_rows[0], full[:5], rtol=0, atol=1e-5)
    torch.testing.assert_close(paged_rows[-4], full[-1], rtol=0, atol=1e-5)


def test_only_kv_heads_are_stored_gqa_and_mqa():
    mqa = helpers.build_tiny(n_kv_heads=1)
    cache = _paged(mqa, num_blocks=4)
    assert cache.keys[0].shape == (4 * 16, 1, mqa.config.attention_head_dim)
    ids = list(range(20))
    cache.allocate_prompt("a", ids)
    cache.ensure_capacity("a", 20)
    logits = ModelRunner(mqa, cache).execute([SequenceChunk("a", ids, 0, "last")])[0]
    torch.testing.assert_close(logits, mqa(torch.tensor([ids])).logits[0, -1].detach(), rtol=0, atol=1e-5)


def test_fork_shares_blocks_and_copy_on_write_keeps_the_parent_intact(tiny_model):
    cache = _paged(tiny_model, num_blocks=8)
    ids = list(range(20))  # one full block + 4 tokens in a partial block
    cache.allocate_prompt("p", ids)
    cache.ensure_capacity("p", 20)
    ModelRunner(tiny_model, cache).execute([SequenceChunk("p", ids, 0, "last")])
    cache.fork("p", "c")
    assert cache.tables["p"] == cache.tables["c"]
    assert all(cache.ref_counts[b] == 2 for b in cache.tables["p"])
    parent_partial = cache.tables["p"][1]
    before = cache.keys[0][parent_partial * 16 : parent_partial * 16 + 4].clone()
    cache.prepare_write("c", 20, 21)
    assert cache.tables["c"][1] != parent_partial and cache.tables["c"][0] == cache.tables["p"][0]
    ModelRunner(tiny_model, cache).execute([SequenceChunk("c", [99], 20, "last")])
    torch.testing.assert_close(cache.keys[0][parent_partial * 16 : parent_partial * 16 + 4], before)
    cache.free("p")
    cache.free("c")
    assert cache.num_free_blocks == 8 and all(r == 0 for r in cache.ref_counts)


def test_prefix_caching_reuses_full_blocks_and_evicts_lru(tiny_model):
    cache = _paged(tiny_model, num_blocks=6)
    prompt = list(range(40))  # 2 full blocks + 8 tokens
    assert cache.allocate_prompt("a", prompt) == 0
    assert cache.ensure_capacity("a", 40)
    cache.commit("a", prompt)
    assert cache.allocate_prompt("b", prompt) == 32  # the two full blocks are shared
    assert cache.tables["b"] == cache.tables["a"][:2]
    assert cache.allocate_prompt("c", prompt[:33]) == 32
    assert cache.allocate_prompt("d", [1000, *prompt[1:]]) == 0  # a different first block breaks the chain
    for seq in "abcd":
        cache.free(seq)
    assert cache.num_free_blocks == 6
    assert cache.allocate_prompt("e", prompt) == 32  # freed but still cached
    cache.free("e")
    # demand every block: the cached ones are evicted and their hashes forgotten
    cache.allocate_prompt("f", [5] * 90)
    assert cache.ensure_capacity("f", 90)
    assert not cache.ensure_capacity("f", 97)
    cache.free("f")
    assert cache.allocate_prompt("g", prompt) == 0
    cache.free("g")
    assert cache.num_free_blocks == 6


def test_out_of_blocks_is_refused_without_side_effects(tiny_model):
    cache = _paged(tiny_model, num_blocks=2)
    cache.allocate_prompt("a", [1] * 40)
    assert not cache.ensure_capacity("a", 40)
    assert cache.tables["a"] == [] and cache.num_free_blocks == 2
    with pytest.raises(GlossaError):
        cache.allocate_prompt("a", [1])
    with pytest.raises(GlossaError):
        _paged(tiny_model, num_blocks=0)


def test_kv_memory_per_token_and_concurrent_sequences():
    from glossa.infer.kv_cache import kv_bytes_per_token, max_concurrent_sequences

    # SmolLM2-135M: 30 layers, 3 KV heads of 64 → 46,080 bytes a token in fp32 (a third of 9-head MHA)
    assert kv_bytes_per_token(30, 3, 64) == 46080
    assert kv_bytes_per_token(30, 9, 64) == 3 * 46080
    assert kv_bytes_per_token(30, 3, 64, torch.bfloat16) == 23040
    # 512 MiB of cache holds 728 blocks (11,648 tokens): 5 sequences of 2048 (128 blocks each), 45 of 256
    assert max_concurrent_sequences(512 * 2**20, 2048, 30, 3, 64) == 5
    assert max_concurrent_sequences(512 * 2**20, 256, 30, 3, 64) == 45

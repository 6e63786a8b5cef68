"""The fused SDPA path equals the plain-torch reference path: every mask kind, MHA/GQA/MQA, self and cross."""

import pytest
import torch

from glossa.errors import GlossaError
from glossa.nn.attention import Attention, decode_attention, reference_attention, sdpa_attention
from glossa.nn.masks import attention_mask
from glossa.nn.positions import RotaryEmbedding

BATCH, HEADS, T, D = 2, 4, 7, 8
MASKS = {
    "none": lambda: None,
    "causal": lambda: attention_mask(T, causal=True),
    "bidirectional": lambda: attention_mask(T),
    "sliding": lambda: attention_mask(T, causal=True, window=3),
    "sliding-bidirectional": lambda: attention_mask(T, window=2),
    "block-sparse": lambda: attention_mask(T, causal=True, block_size=3),
    "padding": lambda: attention_mask(T, padding=torch.tensor([[1] * 5 + [0] * 2, [1] * 7])),
    "causal+left-padding": lambda: attention_mask(
        T, causal=True, padding=torch.tensor([[0, 0] + [1] * 5, [1] * 7])
    ),
    "sliding+padding": lambda: attention_mask(
        T, causal=True, window=2, padding=torch.tensor([[1] * 6 + [0], [1] * 7])
    ),
}


def qkv(kv_heads: int, s: int = T, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(BATCH, HEADS, T, D, generator=generator)
    k = torch.randn(BATCH, kv_heads, s, D, generator=generator)
    v = torch.randn(BATCH, kv_heads, s, D, generator=generator)
    return q, k, v


@pytest.mark.parametrize("kv_heads", [4, 2, 1], ids=["MHA", "GQA", "MQA"])
@pytest.mark.parametrize("kind", list(MASKS))
def test_sdpa_equals_reference(kind, kv_heads):
    q, k, v = qkv(kv_heads)
    mask = MASKS[kind]()
    reference, probs = reference_attention(q, k, v, mask)
    fused = sdpa_attention(q, k, v, mask)
    assert torch.allclose(fused, reference, atol=1e-5, rtol=0)
    assert torch.isfinite(probs).all()


def test_bf16_training_on_cpu_runs_the_attention_core_in_fp32(monkeypatch):
    seen = []
    fused = torch.nn.functional.scaled_dot_product_attention

    def spy(q, *args, **kwargs):
        seen.append(q.dtype)
        return fused(q, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    q, k, v = (t.bfloat16().requires_grad_() for t in qkv(2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = sdpa_attention(q, k, v, causal=True)
    out.float().sum().backward()
    exact = (t.detach().float() for t in (q, k, v))
    reference, _ = reference_attention(*exact, attention_mask(T, causal=True))
    assert seen == [torch.float32] and out.dtype == torch.bfloat16 and q.grad.dtype == torch.bfloat16
    assert torch.allclose(out.float(), reference, atol=2e-2)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # inference keeps bf16
        sdpa_attention(q.detach(), k.detach(), v.detach(), causal=True)
    assert seen[-1] == torch.bfloat16


@pytest.mark.parametrize("kv_heads", [4, 2, 1], ids=["MHA", "GQA", "MQA"])
def test_decode_path_equals_reference_for_one_query(kv_heads):
    q, k, v = qkv(kv_heads, s=13)
    q = q[:, :, -1:]
    reference, _ = reference_attention(q, k, v)
    assert torch.allclose(decode_attention(q, k, v), reference, atol=1e-5)
    assert torch.allclose(sdpa_attention(q, k, v), reference, atol=1e-5)


def test_reference_matches_the_formula_with_repeated_kv_heads():
    q, k, v = qkv(2)
    mask = attention_mask(T, causal=True)
    k_full, v_full = k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
    scores = q @ k_full.transpose(-2, -1) / D**0.5
    probs = scores.masked_fill(~mask, float("-inf")).softmax(-1)
    out, got_probs = reference_attention(q, k, v, mask)
    assert torch.allclose(got_probs, probs, atol=1e-6)
    assert torch.allclose(out, probs @ v_full, atol=1e-6)
    assert torch.allclose(got_probs.sum(-1), torch.ones(BATCH, HEADS, T))
    assert (got_probs.masked_select(~mask) == 0).all()


def test_a_query_that_sees_no_key_gets_zero_on_both_paths():
    q, k, v = qkv(4)
    mask = attention_mask(T, causal=True, padding=torch.tensor([[0, 0] + [1] * 5, [1] * 7]))
    reference, probs = reference_attention(q, k, v, mask)
    fused = sdpa_attention(q, k, v, mask)
    assert (reference[0, :, :2] == 0).all() and (fused[0, :, :2] == 0).all()
    assert (probs[0, :, :2] == 0).all()


@pytest.mark.parametrize("kv_heads", [4, 2, 1], ids=["MHA", "GQA", "MQA"])
def test_cross_attention_over_a_longer_context(kv_heads):
    torch.manual_seed(0)
    attention = Attention(32, 4, kv_heads, d_context=24).eval()
    x, context = torch.randn(2, 5, 32), torch.randn(2, 11, 24)
    context_mask = torch.tensor([[1] * 11, [1] * 8 + [0] * 3]).bool()[:, None, None, :]
    fused, none = attention(x, context=context, mask=context_mask)
    reference, probs = attention(x, context=context, mask=context_mask, backend="reference", need_probs=True)
    assert none is None and probs.shape == (2, 4, 5, 11)
    assert torch.allclose(fused, reference, atol=1e-5)
    assert (probs[1, ..., 8:] == 0).all()


def test_module_with_rope_and_window_agrees_across_backends():
    torch.manual_seed(0)
    attention = Attention(32, 4, 2).eval()
    rope = RotaryEmbedding(8, 10000.0)(torch.arange(T))
    x = torch.randn(2, T, 32)
    mask = attention_mask(T, causal=True, window=3)
    fused, _ = attention(x, mask=mask, rope=rope)
    reference, probs = attention(x, mask=mask, rope=rope, need_probs=True)
    assert torch.allclose(fused, reference, atol=1e-5)
    assert probs.shape == (2, 4, T, T)


def test_head_counts_are_checked():
    with pytest.raises(GlossaError, match="do not divide"):
        Attention(32, 4, 3)
    with pytest.raises(GlossaError, match="width"):
        Attention(30, 4)
    with pytest.raises(GlossaError, match="backend"):
        Attention(32, 4)(torch.randn(1, 2, 32), backend="flash")

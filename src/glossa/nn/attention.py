"""Attention: every query token takes a weighted average of the value vectors of the keys it may see.

For one head, with queries Q (t × d), keys K and values V (s × d):

    scores = Q Kᵀ / √d              the attention score of each query-key pair (scaled dot product)
    scores[~mask] = -∞              the mask (glossa.nn.masks) hides keys a query must not see
    probs = softmax(scores, keys)   each row sums to 1
    out = probs V

**Multi-head attention** runs `n_heads` of these side by side on slices of the model width, each with its own
Q/K/V projections, and mixes their outputs with one more projection (`o`). **Grouped-query attention** (GQA,
Llama 2/3, SmolLM2) keeps all query heads but only `n_kv_heads` key/value heads, each shared by
n_heads / n_kv_heads query heads; **multi-query attention** (MQA, PaLM) is the extreme n_kv_heads = 1. Fewer
K/V heads shrink the KV cache by the same factor, which is what bounds decoding speed and batch size.
One `Attention` module covers all three through `n_kv_heads`.

**Self-attention** takes Q, K and V from the same sequence; **cross-attention** (the decoder of an
encoder-decoder) takes Q from the decoder and K, V from the encoder's output (`context=`).

Three interchangeable paths compute the same thing:
- `sdpa_attention`: `torch.nn.functional.scaled_dot_product_attention`, which picks a fused kernel
  (FlashAttention-style on GPU and on CPU: the score matrix is processed in tiles and never materialised, so
  memory grows linearly with length instead of quadratically);
- `reference_attention`: the formula above in plain torch, materialising the probabilities. The tests check
  the two agree, and it is the path taken when the caller asks for the attention probabilities
  (`need_probs=True`, for attention maps and interpretability), since fused kernels never form them;
- `decode_attention`: one new query per sequence over cached keys (a decoding step), as two batched matmuls
  with the query heads of each KV group stacked as rows, so GQA needs no copy of K and V. On a CPU this is
  several times cheaper than a fused-kernel call at query length 1; `Attention` takes it automatically.

A query that may see no key at all gets a zero output on both paths.
"""

from __future__ import annotations

import contextlib
import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glossa.errors import GlossaError
from glossa.nn.masks import CausalMask
from glossa.nn.positions import apply_rotary

BACKENDS = ("sdpa", "reference")


class KVCacheLayer(Protocol):
    """What attention needs from a KV cache: append this step's keys/values, get all of them back."""

    def update(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]: ...


def reference_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    dropout: float = 0.0,
    scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Scaled dot-product attention in plain torch: q (batch, heads, t, d), k and v (batch, kv_heads, s, d),
    mask broadcastable to (batch, heads, t, s), True = may attend. Returns (output, probabilities)."""
    n_heads, n_kv_heads = q.shape[1], k.shape[1]
    if n_kv_heads != n_heads:  # GQA/MQA: each K/V head serves a group of consecutive query heads
        k = k.repeat_interleave(n_heads // n_kv_heads, dim=1)
        v = v.repeat_interleave(n_heads // n_kv_heads, dim=1)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q.float() @ k.float().transpose(-2, -1)) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if mask is not None:  # rows with no visible key are all -inf, so NaN after softmax: make them zero
        probs = probs.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    if dropout > 0.0:
        probs = F.dropout(probs, p=dropout)
    return (probs @ v.float()).to(q.dtype), probs.to(q.dtype)


def sdpa_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    dropout: float = 0.0,
    scale: float | None = None,
    causal: bool = False,
) -> Tensor:
    """The same computation through torch's fused `scaled_dot_product_attention` (no probabilities);
    `causal=True` (with no mask) is the plain causal mask over equally many queries and keys."""
    gqa = k.shape[1] != q.shape[1]
    dtype, upcast = q.dtype, _slow_bf16_backward(q)
    with torch.autocast("cpu", enabled=False) if upcast else contextlib.nullcontext():
        if upcast:
            q, k, v = q.float(), k.float(), v.float()
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, scale=scale, enable_gqa=gqa, is_causal=causal
        ).to(dtype)
    if mask is not None and not bool(mask.all()):  # make fully masked rows zero on every backend
        out = out.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    return out


def _slow_bf16_backward(q: Tensor) -> bool:
    """torch's CPU flash-attention backward in bf16 is ~4x slower than in fp32 (measured, torch 2.13,
    AVX-512 BF16), so bf16 training on a CPU runs the attention core in fp32 (autocast would cast it back to
    bf16, so it is switched off around the call); the projections stay bf16."""
    return q.dtype == torch.bfloat16 and q.device.type == "cpu" and q.requires_grad


def decode_attention(q: Tensor, k: Tensor, v: Tensor, *, scale: float | None = None) -> Tensor:
    """Attention for ONE query position, no mask: q (batch, heads, 1, d), k and v (batch, kv_heads, s, d)."""
    batch, n_heads, _, dim = q.shape
    n_kv_heads = k.shape[1]
    scale = 1.0 / math.sqrt(dim) if scale is None else scale
    grouped = q.reshape(batch, n_kv_heads, n_heads // n_kv_heads, dim)  # a KV head's query heads as rows
    scores = (grouped @ k.transpose(-2, -1)).float() * scale
    probs = torch.softmax(scores, dim=-1).to(v.dtype)
    return (probs @ v).reshape(batch, n_heads, 1, dim)


class Attention(nn.Module):
    """Multi-head / grouped-query / multi-query attention, self or cross, with optional RoPE and KV cache."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        head_dim: int | None = None,
        *,
        bias: bool = False,
        dropout: float = 0.0,
        d_context: int | None = None,
    ) -> None:
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if n_heads % n_kv_heads:
            raise GlossaError(f"{n_kv_heads} key/value heads do not divide {n_heads} query heads")
        if head_dim is None:
            if d_model % n_heads:
                raise GlossaError(f"{n_heads} heads do not divide the width {d_model}")
            head_dim = d_model // n_heads
        self.n_heads, self.n_kv_heads, self.head_dim, self.dropout = n_heads, n_kv_heads, head_dim, dropout
        d_context = d_model if d_context is None else d_context
        self.q = nn.Linear(d_model, n_heads * head_dim, bias=bias)
        self.k = nn.Linear(d_context, n_kv_heads * head_dim, bias=bias)
        self.v = nn.Linear(d_context, n_kv_heads * head_dim, bias=bias)
        self.o = nn.Linear(n_heads * head_dim, d_model, bias=bias)
        self.backend = "sdpa"

    def forward(
        self,
        x: Tensor,
        *,
        context: Tensor | None = None,
        mask: Tensor | CausalMask | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCacheLayer | None = None,
        need_probs: bool = False,
        backend: str | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """x (batch, t, d_model); `context` (batch, s, d_context) for cross-attention; `rope` the (cos, sin)
        of the query positions (self-attention only). Returns the output and, if asked, the probabilities."""
        batch, t, _ = x.shape
        source = x if context is None else context
        q = self.q(x).view(batch, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k(source).view(batch, source.shape[1], self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v(source).view(batch, source.shape[1], self.n_kv_heads, self.head_dim).transpose(1, 2)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        if cache is not None:
            k, v = cache.update(k, v)
        dropout = self.dropout if self.training else 0.0
        backend = backend or self.backend
        if backend not in BACKENDS:
            raise GlossaError(f"unknown attention backend {backend!r}: use one of {', '.join(BACKENDS)}")
        probs = None
        causal = isinstance(mask, CausalMask)
        if causal and (need_probs or backend == "reference" or mask.length != t or k.shape[2] != t):
            mask, causal = mask.build(x.device), False
        if need_probs or backend == "reference":
            out, probs = reference_attention(q, k, v, mask, dropout=dropout)
        elif t == 1 and mask is None and dropout == 0.0:
            out = decode_attention(q, k, v)
        elif causal:
            out = sdpa_attention(q, k, v, None, dropout=dropout, causal=True)
        else:
            out = sdpa_attention(q, k, v, mask, dropout=dropout)
        out = out.transpose(1, 2).reshape(batch, t, self.n_heads * self.head_dim)
        return self.o(out), (probs if need_probs else None)

"""Attention masks: which keys each query may look at, as one boolean tensor built by one function.

Every mask glossa uses is a conjunction of a few independent rules, so `attention_mask` takes them as keyword
arguments and ANDs them together:

    causal        a query sees itself and the keys before it (decoder self-attention, GPT-style)
    window=w      a query sees keys less than w positions away: behind it when causal (Mistral's sliding
                  window attention), on either side otherwise (a bidirectional local window)
    block_size=l  block-sparse attention, the "fixed" pattern of Child et al. (2019, Sparse Transformers):
                  a query sees every key in its own block of l positions, plus the last key of every block
                  (those "summary" positions carry information between blocks)
    padding       a (batch, k_len) tensor, True (or 1) for real tokens: no query sees a padding key
    (nothing)     bidirectional attention: everyone sees everyone (BERT, an encoder)

True means "may attend", the convention of `torch.nn.functional.scaled_dot_product_attention`. Positions are
absolute: the keys are positions 0..k_len-1 and the queries are the LAST q_len of them unless `q_offset` says
otherwise, which is what decoding with a KV cache needs (one new query, many cached keys). The result is
(q_len, k_len), or (batch, 1, q_len, k_len) when there is a padding mask, ready to broadcast over heads.

    >>> attention_mask(4, causal=True, window=2).int()
    tensor([[1, 0, 0, 0],
            [1, 1, 0, 0],
            [0, 1, 1, 0],
            [0, 0, 1, 1]], dtype=torch.int32)

A query that may see no key at all (a padding query whose only visible key is itself) gets a zero output from
both attention paths in `glossa.nn.attention`; its output is never used anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from glossa.errors import GlossaError


@dataclass(frozen=True)
class CausalMask:
    """The plain causal mask of `length` queries over the same `length` keys, not built: attention runs it as
    SDPA's `is_causal=True` (the fused kernel skips the hidden half instead of reading a mask tensor and
    checking it for empty rows) and builds it only where probabilities are asked for."""

    length: int

    def build(self, device: torch.device | str | None = None) -> Tensor:
        return attention_mask(self.length, causal=True, device=device)


def attention_mask(
    q_len: int,
    k_len: int | None = None,
    *,
    causal: bool = False,
    window: int | None = None,
    block_size: int | None = None,
    padding: Tensor | None = None,
    q_offset: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """The boolean mask (True = may attend) of `q_len` queries over `k_len` keys; see the module docstring."""
    k_len = q_len if k_len is None else k_len
    if q_len < 0 or k_len < 0:
        raise GlossaError(f"mask lengths must be 0 or more, not q_len={q_len}, k_len={k_len}")
    if window is not None and window < 1:
        raise GlossaError(f"the attention window must be at least 1 position, not {window}")
    if block_size is not None and block_size < 1:
        raise GlossaError(f"the sparse block size must be at least 1 position, not {block_size}")
    q_offset = k_len - q_len if q_offset is None else q_offset
    if padding is not None:
        device = padding.device
    query = torch.arange(q_len, device=device).unsqueeze(1) + q_offset  # absolute positions, (q_len, 1)
    key = torch.arange(k_len, device=device).unsqueeze(0)  # (1, k_len)
    distance = query - key  # > 0: the key is in the past

    mask = torch.ones(q_len, k_len, dtype=torch.bool, device=device)
    if causal:
        mask &= distance >= 0
    if window is not None:
        mask &= distance < window if causal else distance.abs() < window
    if block_size is not None:
        same_block = query // block_size == key // block_size
        summary = key % block_size == block_size - 1
        mask &= same_block | summary
    if padding is not None:
        if padding.dim() != 2 or padding.shape[1] != k_len:
            raise GlossaError(
                f"the padding mask must be (batch, {k_len}) to match the keys, not {tuple(padding.shape)}"
            )
        mask = mask.unsqueeze(0).unsqueeze(0) & padding.bool()[:, None, None, :]
    return mask

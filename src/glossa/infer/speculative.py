"""Speculative decoding: guess k tokens cheaply, let the big model check all of them in ONE forward pass.

Decoding one token per forward pass leaves a CPU or GPU mostly idle (a decode step reads every weight to do
a sliver of arithmetic). If something cheap proposes k draft tokens d₁…d_k, the target model can score the
k + 1 positions [last, d₁, …, d_k] in one pass — about the cost of one decode step — and keep the longest
run of drafts it agrees with, plus one token of its own. With acceptance rate α, a step yields
(1 − α^(k+1)) / (1 − α) tokens instead of 1.

The acceptance rule (Leviathan et al. 2023; Chen et al. 2023) keeps the output distribution EXACTLY the
target's: with p the target's and q the draft's distribution at a position, accept draft d with probability
min(1, p(d) / q(d)); on the first rejection, sample instead from norm(max(0, p − q)) and stop; if every draft
is accepted, sample a bonus token from the target's distribution after d_k. (Sum over both branches:
P(x) = q(x)·min(1, p/q) + (1 − Σ min(p, q))·max(0, p − q)(x)/Σ max(0, p − q) = p(x).) Greedy decoding is the
special case where p and q are one-hot: keep drafts while they equal the target's argmax.

Two proposers:
- `NgramProposer` (prompt lookup decoding): no model at all. Find the most recent earlier occurrence of the
  last n tokens in prompt + output and propose what followed it. Great when the output copies the input
  (summaries, code edits, RAG answers). Its q is one-hot on the proposed token.
- `DraftModelProposer`: a small model with the same vocabulary samples k tokens autoregressively with the
  request's own settings, keeping its own KV cache per request (rolled back to the accepted prefix).

The engine's scheduler treats the drafts as tokens the request still needs computed (num_tokens + k), so
verification is the same one rule as prefill and decode; `verify` then decides what is kept. Exact for
requests without repetition/frequency/presence penalties (the engine does not speculate for those).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from glossa.errors import GlossaError
from glossa.infer.logits import process_logits
from glossa.infer.params import SamplingParams
from glossa.nn.kv_cache import KVCache


def target_probs(logits: Tensor, params: SamplingParams) -> Tensor:
    """The distribution a request samples from at each row of `logits` (k+1, V); one-hot when greedy."""
    rows = [params] * logits.shape[0]
    penalised, filtered = process_logits(logits, rows)
    if params.is_greedy:
        return torch.nn.functional.one_hot(penalised.argmax(-1), logits.shape[-1]).float()
    return filtered.softmax(dim=-1)


def verify(
    draft_ids: Sequence[int],
    target: Tensor,
    draft: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> list[int]:
    """The exact rejection rule: target (k+1, V) and draft (k, V) probabilities (None: one-hot drafts).
    Returns the accepted drafts followed by one token sampled by the target (correction or bonus)."""
    accepted: list[int] = []
    for index, token in enumerate(draft_ids):
        p = target[index]
        q = (
            draft[index]
            if draft is not None
            else torch.zeros_like(p).index_fill_(0, torch.tensor([token]), 1.0)
        )
        ratio = float(p[token]) / max(float(q[token]), 1e-30)
        if ratio >= 1.0 or float(torch.rand((), generator=generator)) < ratio:
            accepted.append(token)
            continue
        residual = (p - q).clamp(min=0.0)
        if float(residual.sum()) <= 0.0:  # p ≤ q everywhere only if p == q: then p itself
            residual = p
        accepted.append(int(torch.multinomial(residual / residual.sum(), 1, generator=generator)))
        return accepted
    accepted.append(int(torch.multinomial(target[len(draft_ids)], 1, generator=generator)))
    return accepted


def greedy_verify(draft_ids: Sequence[int], target_argmax: Sequence[int]) -> list[int]:
    """Keep drafts while they equal the target's argmax, then the target's own next token."""
    accepted: list[int] = []
    for token, best in zip(draft_ids, target_argmax, strict=False):
        if token != best:
            break
        accepted.append(token)
    accepted.append(int(target_argmax[len(accepted)]))
    return accepted


class NgramProposer:
    """Prompt-lookup drafting: match the last `max_n`…`min_n` tokens earlier in the sequence."""

    def __init__(self, k: int = 4, max_n: int = 3, min_n: int = 1) -> None:
        if k < 1 or not 1 <= min_n <= max_n:
            raise GlossaError(
                f"n-gram drafting needs k ≥ 1 and 1 ≤ min_n ≤ max_n, not k={k}, {min_n}..{max_n}"
            )
        self.k, self.max_n, self.min_n = k, max_n, min_n

    def propose(
        self, request_id: str, ids: Sequence[int], params: SamplingParams, k: int
    ) -> tuple[list[int], None]:
        k = min(k, self.k)
        for n in range(self.max_n, self.min_n - 1, -1):
            if len(ids) <= n:
                continue
            suffix = list(ids[-n:])
            for start in range(len(ids) - n - 1, -1, -1):  # the most recent earlier occurrence
                if list(ids[start : start + n]) == suffix:
                    follow = list(ids[start + n : start + n + k])
                    if follow:
                        return follow, None
        return [], None

    def forget(self, request_id: str) -> None:
        """Nothing is kept per request."""


class DraftModelProposer:
    """A small model drafts k tokens with the request's sampling settings; one KV cache per request."""

    def __init__(self, model: torch.nn.Module, k: int = 4) -> None:
        if k < 1:
            raise GlossaError(f"the draft length k must be at least 1, not {k}")
        self.model, self.k = model, k
        self._caches: dict[str, tuple[KVCache, list[int]]] = {}

    @torch.inference_mode()
    def propose(
        self,
        request_id: str,
        ids: Sequence[int],
        params: SamplingParams,
        k: int,
        generator: torch.Generator | None = None,
    ) -> tuple[list[int], Tensor]:
        k = min(k, self.k)
        cache, cached = self._caches.get(request_id) or (KVCache(self.model.config.n_layers), [])
        keep = 0
        while keep < min(len(cached), len(ids) - 1) and cached[keep] == ids[keep]:
            keep += 1
        for layer in cache.layers:  # roll back to the prefix still valid
            if layer.keys is not None and layer.values is not None:
                layer.keys, layer.values = layer.keys[:, :, :keep], layer.values[:, :, :keep]
        cached = list(ids[:keep])
        feed = list(ids[keep:])
        drafts: list[int] = []
        probs: list[Tensor] = []
        for _ in range(k):
            logits = self.model(torch.tensor([feed]), cache=cache).logits[0, -1:].float()
            cached.extend(feed)
            q = target_probs(logits, params)[0]
            token = int(q.argmax()) if params.is_greedy else int(torch.multinomial(q, 1, generator=generator))
            drafts.append(token)
            probs.append(q)
            feed = [token]
        self._caches[request_id] = (cache, cached)
        return drafts, torch.stack(probs)

    def forget(self, request_id: str) -> None:
        self._caches.pop(request_id, None)

"""The next-token distribution of a prompt, before and after sampling settings: the glossary page's chart.

    dist = next_token_distribution(model, tokenizer, "The capital of France is", SamplingParams(top_p=0.9))
    dist.tokens[0]     # NextToken(id=..., text=' Paris', logit=..., raw_prob=0.61, prob=0.83)

One forward pass gives the logits at the last position; `raw_prob` is their plain softmax (what the model
believes) and `prob` is what a request with these settings would sample from: glossa's own logits processors
(`glossa.infer.logits.process_logits`: temperature, then top-k, top-p, min-p) and a softmax, exactly the
distribution the engine's sampler draws from; temperature 0 puts all mass on the argmax, as greedy decoding
does. The tokens shown are the `top_n` most likely under the raw distribution, so moving a slider changes the
bars, not which tokens are drawn.

A user drags sliders over the same prompt, so the last position's logits of recent prompts are kept (a small
LRU keyed by the model object and the token ids): only the first request for a prompt pays for the model.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor

from glossa.errors import GlossaError
from glossa.infer.logits import process_logits
from glossa.infer.params import SamplingParams
from glossa.models.transformer import Transformer
from glossa.tokenizers.base import Tokenizer

MAX_PROMPT_TOKENS = 1024
MAX_TOP_N = 50
CACHED_PROMPTS = 32


@dataclass(frozen=True)
class NextToken:
    id: int
    text: str
    logit: float
    raw_prob: float
    prob: float


@dataclass(frozen=True)
class NextTokenDistribution:
    prompt_tokens: int
    kept: int  # tokens with probability > 0 after the settings (the vocabulary size when nothing truncates)
    entropy_bits: float  # of the distribution after the settings
    tokens: list[NextToken]


class _LastLogitsCache:
    """The last position's logits of recent (model, prompt) pairs, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, tuple[int, ...]], Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: Transformer, ids: list[int]) -> Tensor:
        key = (id(model), tuple(ids))
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        with torch.inference_mode():
            logits = model(torch.tensor([ids])).logits[0, -1].float().clone()
        with self._lock:
            self._entries[key] = logits
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return logits


_cache = _LastLogitsCache(CACHED_PROMPTS)


def prompt_ids(model: Transformer, tokenizer: Tokenizer, prompt: str) -> list[int]:
    """The prompt's token ids, checked against the model kind and the length limits."""
    if model.config.architecture != "decoder" or model.config.head != "lm":
        raise GlossaError("this model does not predict next tokens: pick a decoder (e.g. smollm2)")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:
        raise GlossaError("prompt holds a lone surrogate, which is not text: send valid UTF-8") from None
    ids = tokenizer.encode(prompt)
    if not ids:
        raise GlossaError("prompt is empty: give at least one character of text")
    limit = min(MAX_PROMPT_TOKENS, model.config.context_length)
    if len(ids) > limit:
        raise GlossaError(f"prompt is {len(ids)} tokens long; this demo takes at most {limit}")
    return ids


def filtered_probs(logits: Tensor, params: SamplingParams) -> Tensor:
    """The distribution a request with `params` samples its next token from (one row of logits)."""
    if params.is_greedy:
        return torch.nn.functional.one_hot(logits.argmax(), logits.shape[-1]).float()
    _, filtered = process_logits(logits.unsqueeze(0), [params])
    return filtered[0].softmax(-1)


def entropy_bits(probs: Tensor) -> float:
    nonzero = probs[probs > 0]
    return float(-(nonzero * nonzero.log2()).sum())


def next_token_distribution(
    model: Transformer, tokenizer: Tokenizer, prompt: str, params: SamplingParams, top_n: int = 10
) -> NextTokenDistribution:
    """The `top_n` most likely next tokens of `prompt`, with raw and filtered probabilities."""
    if not 1 <= top_n <= MAX_TOP_N:
        raise GlossaError(f"top_n must be an integer in [1, {MAX_TOP_N}], got {top_n}")
    ids = prompt_ids(model, tokenizer, prompt)
    logits = _cache.get(model, ids)
    raw = logits.softmax(-1)
    probs = filtered_probs(logits, params)
    top = raw.topk(top_n)
    tokens = [
        NextToken(
            id=int(token_id),
            text=tokenizer.decode([int(token_id)]),
            logit=float(logits[token_id]),
            raw_prob=float(raw_prob),
            prob=float(probs[token_id]),
        )
        for raw_prob, token_id in zip(top.values, top.indices, strict=True)
    ]
    entropy = entropy_bits(probs)
    return NextTokenDistribution(
        prompt_tokens=len(ids),
        kept=int((probs > 0).sum()),
        entropy_bits=0.0 if math.isnan(entropy) else entropy,
        tokens=tokens,
    )

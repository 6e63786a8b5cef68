"""How surprised is a language model by a text? Every §4 quantity from one forward pass.

For each token x_t the model gives p(x_t | x_<t). From those probabilities:

    surprise (NLL) of a token    -ln p  nats  =  -log2 p  bits
    log-likelihood of the text   Σ ln p                     (≤ 0; a sum of logs, so no underflow)
    negative log-likelihood      -Σ ln p
    cross-entropy / LM loss      -(1/T) Σ ln p              (the training loss: mean NLL per token)
    perplexity                   e^cross-entropy             (as unsure as a uniform choice among that many)
    bits per token / char / byte -Σ log2 p divided by tokens, code points or UTF-8 bytes

Bits per byte does not depend on the tokenizer, which is why it compares models with different vocabularies.
Next to them sits the text's zero-order entropy (`glossa.evals.information`): the bits per character a model
that knows only the text's own character frequencies would need — a model that uses context should beat it.

The first token has no left context, so the text is conditioned on the tokenizer's `<|endoftext|>` document
separator (GPT-2 style), or its BOS token; with neither, the first token is not scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from glossa.errors import GlossaError
from glossa.evals.information import EntropyRates, unigram_entropy_rates

LN2 = math.log(2)
DOCUMENT_SEPARATOR = "<|endoftext|>"


@dataclass(frozen=True)
class TokenScore:
    token_id: int
    text: str
    probability: float
    nats: float

    @property
    def bits(self) -> float:
        return self.nats / LN2


@dataclass(frozen=True)
class TextScore:
    tokens: list[TokenScore]
    context_id: int | None  # the token the text was conditioned on, if any
    scored_text: str  # the text the scored tokens stand for
    scored_bytes: int
    entropy: EntropyRates  # zero-order entropy of the scored text

    @property
    def log_likelihood(self) -> float:
        return -self.negative_log_likelihood

    @property
    def negative_log_likelihood(self) -> float:
        return sum(token.nats for token in self.tokens)

    @property
    def cross_entropy(self) -> float:
        """Mean NLL per token in nats: the language-modelling loss on this text."""
        return self.negative_log_likelihood / len(self.tokens)

    @property
    def perplexity(self) -> float:
        return math.exp(self.cross_entropy)

    @property
    def total_bits(self) -> float:
        return self.negative_log_likelihood / LN2

    @property
    def bits_per_token(self) -> float:
        return self.total_bits / len(self.tokens)

    @property
    def bits_per_character(self) -> float:
        return self.total_bits / len(self.scored_text)

    @property
    def bits_per_byte(self) -> float:
        return self.total_bits / self.scored_bytes


def context_token(tokenizer) -> int | None:
    """The id a text is conditioned on: the document separator `<|endoftext|>` that pretraining put between
    documents, else BOS, else none. (SmolLM2's BOS is the chat marker `<|im_start|>`, after which a role name
    is expected, not prose.)"""
    separator = tokenizer.special_tokens.get(DOCUMENT_SEPARATOR)
    return separator if separator is not None else tokenizer.bos_id


@torch.no_grad()
def score_text(model: torch.nn.Module, tokenizer, text: str) -> TextScore:
    """Per-token probabilities of `text` under `model`, and the totals the module docstring lists."""
    ids = tokenizer.encode(text)
    context = context_token(tokenizer)
    inputs = ([context] if context is not None else []) + ids
    if len(inputs) < 2:
        raise GlossaError("the text is too short to score: give at least two tokens of text")
    limit = getattr(getattr(model, "config", None), "context_length", None)
    if limit is not None and len(inputs) > limit:
        raise GlossaError(f"the text is {len(inputs)} tokens; this model reads at most {limit}: shorten it")
    was_training = model.training
    model.eval()
    logits = model(torch.tensor([inputs])).logits[0, :-1].float()
    model.train(was_training)
    targets = torch.tensor(inputs[1:])
    nats = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    scored_ids = inputs[1:]
    tokens = [
        TokenScore(token_id, tokenizer.decode([token_id]), math.exp(-value), value)
        for token_id, value in zip(scored_ids, nats.tolist(), strict=True)
    ]
    scored_bytes = b"".join(tokenizer.token_bytes(token_id) for token_id in scored_ids)
    scored_text = scored_bytes.decode("utf-8", errors="replace")
    return TextScore(tokens, context, scored_text, len(scored_bytes), unigram_entropy_rates(scored_text))

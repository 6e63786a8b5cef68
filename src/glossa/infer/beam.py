"""Beam search, and the joint probability of a sequence that it maximises.

By the chain rule a sequence's probability is the product of its conditional next-token probabilities,
p(y_1..y_T | x) = Π_t p(y_t | x, y_<t), so its log-probability is a sum (`sequence_logprob`). Greedy decoding
maximises each factor in turn, which need not maximise the product; beam search keeps the `beam_width` best
prefixes by summed log-probability at every step and expands them all (width 1 is greedy).

Scoring and stopping follow transformers' `generate(num_beams=...)` (HF's `_beam_search`), so results compare:
- every step considers the 2 × beam_width best (prefix, token) continuations; one ending in EOS becomes a
  finished hypothesis only if it ranks among the top beam_width, the rest refill the running beams;
- a finished hypothesis scores sum_logprobs / generated_length ** length_penalty (the generated length counts
  the EOS token, not the prompt); length_penalty > 0 favours longer outputs, < 0 shorter, 0 is the raw sum;
- at `max_tokens` every running beam is finished as it stands; the best `beam_width` finished are kept;
- `early_stopping`: True stops as soon as beam_width hypotheses are finished; False (HF's default) stops when
  the best running beam, scored at the current length, cannot beat the worst finished one — a heuristic, since
  with length_penalty > 0 a longer continuation can still score better; "never" scores the running beam at
  the longest possible length when length_penalty > 0, which is a true bound: with a beam wide enough to hold
  every prefix, "never" returns the exact best sequence (the brute-force check in the tests).

`step_fn(prefixes)` gets the running prefixes (prompt + generated ids, a list of lists) and returns their
next-token logits [len(prefixes), V]; it is any model behind a callback, so no cache is assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from glossa.errors import GlossaError
from glossa.infer.params import SamplingParams

StepFn = Callable[[list[list[int]]], Tensor]


@dataclass
class Hypothesis:
    tokens: list[int]  # generated ids only (EOS included when it ended on EOS)
    sum_logprobs: float
    score: float  # sum_logprobs / len(tokens) ** length_penalty


def sequence_logprob(step_fn: StepFn, prompt: Sequence[int], continuation: Sequence[int]) -> float:
    """log p(continuation | prompt) = Σ_t log p(y_t | prompt, y_<t): the joint probability, in log space."""
    prefixes = [list(prompt) + list(continuation[:t]) for t in range(len(continuation))]
    if not prefixes:
        return 0.0
    logprobs = step_fn(prefixes).double().log_softmax(dim=-1)
    return float(logprobs[torch.arange(len(continuation)), torch.tensor(list(continuation))].sum())


def beam_search(
    step_fn: StepFn,
    prompt: Sequence[int],
    *,
    beam_width: int,
    max_tokens: int,
    eos_token_id: int | None = None,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
) -> list[Hypothesis]:
    """The best `beam_width` hypotheses, best first (see the module docstring for the exact rules)."""
    if beam_width < 1 or max_tokens < 1:
        raise GlossaError(f"beam_width and max_tokens must be >= 1, got {beam_width} and {max_tokens}")
    if early_stopping not in (True, False, "never"):
        raise GlossaError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
    running: list[tuple[list[int], float]] = [([], 0.0)]
    finished: list[Hypothesis] = []

    def score(sum_logprobs: float, length: int) -> float:
        return sum_logprobs / length**length_penalty

    for step in range(max_tokens):
        length = step + 1
        logprobs = step_fn([list(prompt) + tokens for tokens, _ in running]).double().log_softmax(dim=-1)
        totals = logprobs + torch.tensor([s for _, s in running], dtype=torch.float64).unsqueeze(1)
        vocab_size = totals.shape[-1]
        k = min(2 * beam_width, totals.numel())
        top_values, top_indices = totals.flatten().topk(k)
        next_running: list[tuple[list[int], float]] = []
        for rank, (value, index) in enumerate(zip(top_values.tolist(), top_indices.tolist(), strict=True)):
            beam, token = divmod(index, vocab_size)
            tokens = [*running[beam][0], token]
            ends = token == eos_token_id or length == max_tokens
            if ends:
                if rank < beam_width and not (early_stopping is True and len(finished) >= beam_width):
                    finished.append(Hypothesis(tokens, value, score(value, length)))
            elif len(next_running) < beam_width:
                next_running.append((tokens, value))
        finished = sorted(finished, key=lambda h: h.score, reverse=True)[:beam_width]
        running = next_running
        if not running or _done(
            running, finished, beam_width, length, max_tokens, length_penalty, early_stopping
        ):
            break
    return finished


def beam_search_request(
    step_fn: StepFn, prompt: Sequence[int], params: SamplingParams, eos_token_id: int | None
) -> list[Hypothesis]:
    """Beam search with a request's settings: `beam_width`, `max_tokens`, `length_penalty`, `early_stopping`;
    the best `params.n` hypotheses, best first."""
    hypotheses = beam_search(
        step_fn,
        prompt,
        beam_width=params.beam_width,
        max_tokens=params.max_tokens,
        eos_token_id=None if params.ignore_eos else eos_token_id,
        length_penalty=params.length_penalty,
        early_stopping=params.early_stopping,
    )
    return hypotheses[: params.n]


def _done(
    running: list[tuple[list[int], float]],
    finished: list[Hypothesis],
    beam_width: int,
    length: int,
    max_tokens: int,
    length_penalty: float,
    early_stopping: bool | str,
) -> bool:
    if len(finished) < beam_width:
        return False
    if early_stopping is True:
        return True
    best_length = max_tokens if early_stopping == "never" and length_penalty > 0 else length
    best_running = max(s for _, s in running) / best_length**length_penalty
    return best_running <= min(h.score for h in finished)

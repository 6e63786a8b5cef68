"""`Sampler`: pick the next token of every row of a batch in one vectorised pass.

    sampler = Sampler()
    result = sampler.sample(logits, params, histories, output_counts, generators)
    result.token_ids      # [B] chosen ids
    result.logprobs       # [B] log-probability of each chosen id
    result.top_logprobs   # per row, the `params.logprobs` most likely (id, logprob); None if no row asked

Greedy sampling (temperature 0) is the argmax of the penalised logits. Random sampling draws from the
categorical (multinomial with one trial) distribution softmax(filtered logits) with the exponential race vLLM
uses: draw E_i ~ Exp(1) for every token and take argmax p_i / E_i — token i wins with probability exactly p_i
(the minimum of independent exponentials with rates p_i is the one of rate p_i with probability p_i / Σ p).
The race needs no cumulative sum and, crucially, lets each row draw its noise from its own `torch.Generator`:
a row with a seed consumes V numbers of its own generator per step, whatever else is in the batch, so a fixed
seed reproduces its tokens alone or batched with others. Rows without a generator share torch's global one.
`generator_for(params)` makes the generator a request should keep for its whole life.

Arguments, per row: `params`; `histories`, the prompt + output ids (repetition penalty); `output_counts`, a
mapping token id → times generated so far (frequency/presence penalties) — the sparse form a request keeps
cheaply, though a [B, V] count tensor is accepted too; `generators`.

Which distribution the reported log-probabilities come from: by default, as vLLM does (its `logprobs_mode`
"raw_logprobs"), the model's raw log-softmax, before bias, penalties, temperature and truncation — what the
model believes, comparable across requests with different settings. `Sampler(logprobs_mode="processed")`
reports them after bias, penalties and temperature but before top-k/top-p/min-p truncation, so the
alternatives that truncation removed still get finite values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from glossa.errors import GlossaError
from glossa.infer.logits import OutputCounts, apply_temperature, process_logits, row_tensor
from glossa.infer.params import SamplingParams

LogprobsMode = Literal["raw", "processed"]


@dataclass
class SampleResult:
    token_ids: Tensor  # [B] int64
    logprobs: Tensor  # [B] float32, log-probability of each chosen token
    top_logprobs: list[list[tuple[int, float]]] | None  # per row, best first; [] for rows that did not ask


def apply_logits_processors(
    logits: Tensor, params: Sequence[SamplingParams], outputs: Sequence[Sequence[int]]
) -> Tensor:
    """Each row through its request's `logits_processors` (given the ids it generated so far); rows without
    processors are untouched, and so is `logits` itself when no row has any."""
    rows = [row for row, p in enumerate(params) if p.logits_processors]
    if not rows:
        return logits
    logits = logits.clone()
    for row in rows:
        for processor in params[row].logits_processors:
            logits[row] = processor(outputs[row], logits[row])
    return logits


def generator_for(params: SamplingParams, device: torch.device | str = "cpu") -> torch.Generator | None:
    """A generator seeded from `params.seed` (None without a seed: the global RNG is used)."""
    if params.seed is None:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(params.seed % (1 << 64))
    return generator


def exponential_race(probs: Tensor, generators: Sequence[torch.Generator | None]) -> Tensor:
    """One categorical draw per row: argmax p / E with E ~ Exp(1), each row's E from its own generator."""
    noise = torch.empty_like(probs)
    shared = [row for row, generator in enumerate(generators) if generator is None]
    if shared:
        noise[shared] = torch.empty(len(shared), probs.shape[-1], device=probs.device).exponential_()
    for row, generator in enumerate(generators):
        if generator is not None:
            noise[row].exponential_(generator=generator)
    return (probs / noise).argmax(dim=-1)


class Sampler:
    """Chooses next tokens for a batch (see the module docstring); stateless apart from `logprobs_mode`."""

    def __init__(self, logprobs_mode: LogprobsMode = "raw") -> None:
        if logprobs_mode not in ("raw", "processed"):
            raise GlossaError(f"logprobs_mode must be 'raw' or 'processed', got {logprobs_mode!r}")
        self.logprobs_mode = logprobs_mode

    def sample(
        self,
        logits: Tensor,
        params: Sequence[SamplingParams],
        histories: Sequence[Sequence[int]] | None = None,
        output_counts: OutputCounts | None = None,
        generators: Sequence[torch.Generator | None] | None = None,
    ) -> SampleResult:
        batch = len(params)
        generators = list(generators) if generators is not None else [None] * batch
        if len(generators) != batch:
            raise GlossaError(
                f"need one generator (or None) per row: {batch} rows, {len(generators)} generators"
            )
        penalised, filtered = process_logits(logits, params, histories, output_counts)
        token_ids = penalised.argmax(dim=-1)
        sampled_rows = [row for row, p in enumerate(params) if not p.is_greedy]
        if sampled_rows:
            probs = filtered[sampled_rows].softmax(dim=-1)
            draws = exponential_race(probs, [generators[row] for row in sampled_rows])
            token_ids[sampled_rows] = draws
        if self.logprobs_mode == "raw":
            logprobs_all = logits.float().log_softmax(dim=-1)
        else:
            temperature = row_tensor(params, "temperature", penalised.device)
            logprobs_all = apply_temperature(penalised, temperature).log_softmax(dim=-1)
        chosen = logprobs_all.gather(-1, token_ids.unsqueeze(-1)).squeeze(-1)
        return SampleResult(token_ids, chosen, _top_logprobs(logprobs_all, params))


def _top_logprobs(logprobs: Tensor, params: Sequence[SamplingParams]) -> list[list[tuple[int, float]]] | None:
    wanted = [p.logprobs or 0 for p in params]
    most = max(wanted)
    if all(p.logprobs is None for p in params):
        return None
    if most == 0:
        return [[] for _ in params]
    values, ids = logprobs.topk(min(most, logprobs.shape[-1]), dim=-1)
    values, ids = values.tolist(), ids.tolist()
    return [list(zip(ids[row][:k], values[row][:k], strict=True)) for row, k in enumerate(wanted)]

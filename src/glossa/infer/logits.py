"""Logits processors: turn a model's raw next-token scores into the distribution a request samples from.

A batch row is one request, and every request brings its own settings, so each processor takes a per-row
tensor of its parameter and runs once over the whole [B, V] batch; a row whose setting is "off" passes through
unchanged. The order is transformers' (the filters equal the HF processors exactly, checked in tests; vLLM
differs only in applying min-p before top-k/top-p):

    raw logits ─► logit bias ─► repetition penalty ─► frequency/presence penalty ─► / temperature
               ─► top-k ─► top-p ─► min-p ─► softmax ─► sample

Penalties come first because they change which tokens are likely; temperature next because it reshapes the
distribution the truncations measure. Removed tokens get -inf, so softmax gives them probability exactly 0.

Top-k keeps tokens whose logit is at least the k-th largest (ties kept, like `TopKLogitsWarper`); top-p
removes tokens whose ascending cumulative probability is <= 1 - p, i.e. keeps the smallest set of most-likely
tokens that reaches p (Holtzman et al., 2019); min-p removes tokens with probability below min_p × the top
token's. The top token always survives all three. Top-k and top-p share at most one sort, and ties at the
nucleus boundary are all kept (HF removes an arbitrary part of them, by sort position).

Repetition penalty (Keskar et al., 2019, CTRL; HF's processor): for every token already in prompt + output,
a positive logit is divided by the penalty and a negative one multiplied, so > 1 always discourages.
Frequency and presence penalties (OpenAI's definition) act on the output only:
`logit -= frequency_penalty * count + presence_penalty * (count > 0)`. Both penalties read and write only the
(row, token) entries a request has seen, so their cost follows the history, not B × V.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from glossa.errors import GlossaError
from glossa.infer.params import SamplingParams

OutputCounts = Sequence[Mapping[int, int]] | Tensor


def softmax(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """softmax(z / T) over the last axis, in float32; max(z) is subtracted first (torch does it) so exp never
    overflows. T = 0 is the limit: all mass on the argmax."""
    logits = logits.float()
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    return torch.softmax(logits / temperature, dim=-1)


def row_tensor(
    params: Sequence[SamplingParams], name: str, device: torch.device, dtype: torch.dtype = torch.float32
) -> Tensor:
    """One parameter of every row, as a column [B, 1]."""
    return torch.tensor([float(getattr(p, name)) for p in params], dtype=dtype, device=device).unsqueeze(1)


def apply_logit_bias(logits: Tensor, params: Sequence[SamplingParams]) -> Tensor:
    """Add each row's `logit_bias` (token id → bias) in one indexed add."""
    rows, ids, biases = [], [], []
    for row, p in enumerate(params):
        for token_id, bias in (p.logit_bias or {}).items():
            rows.append(row)
            ids.append(token_id)
            biases.append(bias)
    if not rows:
        return logits
    if max(ids) >= logits.shape[-1]:
        raise GlossaError(
            f"logit_bias token id {max(ids)} is outside the vocabulary (0..{logits.shape[-1] - 1})"
        )
    index = (torch.tensor(rows, device=logits.device), torch.tensor(ids, device=logits.device))
    values = torch.tensor(biases, dtype=logits.dtype, device=logits.device)
    return logits.index_put(index, values, accumulate=True)


def _check_ids(ids: list[int], vocab_size: int, what: str) -> None:
    if ids and not 0 <= min(ids) <= max(ids) < vocab_size:
        raise GlossaError(f"{what} holds a token id outside the vocabulary (0..{vocab_size - 1})")


def apply_repetition_penalty(
    logits: Tensor, params: Sequence[SamplingParams], histories: Sequence[Sequence[int]]
) -> Tensor:
    """CTRL-style, on the tokens each row has seen (prompt + output): positive logits / penalty, negative
    ones × penalty. Only the seen (row, token) entries are read and written, never the whole [B, V]."""
    rows, ids, penalties = [], [], []
    for row, (p, history) in enumerate(zip(params, histories, strict=True)):
        if p.repetition_penalty != 1:
            seen = set(history)
            rows += [row] * len(seen)
            ids += seen
            penalties += [p.repetition_penalty] * len(seen)
    if not rows:
        return logits
    _check_ids(ids, logits.shape[-1], "a history")
    index = (torch.tensor(rows, device=logits.device), torch.tensor(ids, device=logits.device))
    penalty = torch.tensor(penalties, dtype=logits.dtype, device=logits.device)
    values = logits[index]
    return logits.index_put(index, torch.where(values < 0, values * penalty, values / penalty))


def apply_frequency_presence(
    logits: Tensor, params: Sequence[SamplingParams], output_counts: OutputCounts
) -> Tensor:
    """OpenAI: logit − frequency_penalty × count − presence_penalty × [count > 0], count over the output.
    Sparse counts touch only the generated tokens; a [B, V] count tensor is applied densely."""
    if isinstance(output_counts, Tensor):
        counts = output_counts.to(device=logits.device, dtype=logits.dtype)
        frequency = row_tensor(params, "frequency_penalty", logits.device)
        presence = row_tensor(params, "presence_penalty", logits.device)
        return logits - frequency * counts - presence * (counts > 0).to(logits.dtype)
    rows, ids, deltas = [], [], []
    for row, (p, row_counts) in enumerate(zip(params, output_counts, strict=True)):
        if p.frequency_penalty or p.presence_penalty:
            for token_id, count in row_counts.items():
                if count > 0:
                    rows.append(row)
                    ids.append(token_id)
                    deltas.append(-(p.frequency_penalty * count + p.presence_penalty))
    if not rows:
        return logits
    _check_ids(ids, logits.shape[-1], "output_counts")
    index = (torch.tensor(rows, device=logits.device), torch.tensor(ids, device=logits.device))
    return logits.index_put(
        index, torch.tensor(deltas, dtype=logits.dtype, device=logits.device), accumulate=True
    )


def apply_temperature(logits: Tensor, temperature: Tensor) -> Tensor:
    """logits / T per row; rows with T = 0 (greedy) are left as they are — the sampler takes their argmax."""
    return logits / torch.where(temperature > 0, temperature, torch.ones_like(temperature))


def apply_top_k_top_p_min_p(logits: Tensor, top_k: Tensor, top_p: Tensor, min_p: Tensor) -> Tensor:
    """Top-k, then top-p, then min-p (top_k: [B, 1] int, <= 0 = off; top_p: [B, 1] float64 so 1 - p is
    exact, 1 = off; min_p: [B, 1], 0 = off). Removed tokens get -inf.

    Top-k and top-p each remove a prefix of the row sorted ascending, so each row ends with one cutoff value:
    every logit below it goes. The sort is the expensive part (at V = 49k it costs ten softmaxes), so it is
    done at most once and only as far as needed: not at all for top-k alone (`topk` gives the k-th value) or
    min-p alone; over the top max(k) candidates when every top-p row also has a top-k (the nucleus is then
    among them); over the whole row otherwise.
    """
    k_on, p_on = top_k > 0, top_p < 1
    if bool(p_on.any()):
        if bool((k_on | ~p_on).all()):
            cutoff = _nucleus_cutoff_among_top_k(logits, top_k, top_p)
        else:
            cutoff = _nucleus_cutoff_full_sort(logits, top_k, top_p)
        logits = logits.masked_fill((logits < cutoff) & (k_on | p_on), -torch.inf)
    elif bool(k_on.any()):
        vocab_size = logits.shape[-1]
        k = top_k.clamp(1, vocab_size)
        kth_largest = logits.topk(int(k.max()), dim=-1).values.gather(-1, k - 1)
        logits = logits.masked_fill((logits < kth_largest) & k_on, -torch.inf)
    if bool((min_p > 0).any()):
        probs = logits.softmax(dim=-1)
        logits = logits.masked_fill(probs < min_p * probs.amax(dim=-1, keepdim=True), -torch.inf)
    return logits


def _nucleus_cutoff_full_sort(logits: Tensor, top_k: Tensor, top_p: Tensor) -> Tensor:
    vocab_size = logits.shape[-1]
    ascending = logits.sort(dim=-1).values  # the most likely token is last, as HF sorts
    k = torch.where(top_k > 0, top_k.clamp(max=vocab_size), torch.full_like(top_k, vocab_size))
    outside_top_k = ascending < ascending.gather(-1, vocab_size - k)  # ties with the k-th are kept, as in HF
    return ascending.gather(-1, _removed_prefix(ascending.masked_fill(outside_top_k, -torch.inf), top_p))


def _nucleus_cutoff_among_top_k(logits: Tensor, top_k: Tensor, top_p: Tensor) -> Tensor:
    candidates = logits.topk(int(top_k.clamp(max=logits.shape[-1]).max()), dim=-1).values
    ascending = candidates.flip(-1)
    width = ascending.shape[-1]
    k = torch.where(top_k > 0, top_k.clamp(max=width), torch.full_like(top_k, width))
    outside_top_k = ascending < ascending.gather(-1, width - k)
    return ascending.gather(-1, _removed_prefix(ascending.masked_fill(outside_top_k, -torch.inf), top_p))


def _removed_prefix(ascending: Tensor, top_p: Tensor) -> Tensor:
    """How many of the lowest entries of each ascending row top-p removes (already -inf ones included): those
    whose cumulative probability is <= 1 - p (HF's rule); the most likely token always stays."""
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
    threshold = (1 - top_p).to(cumulative.dtype)  # 1 - p in float64, then float32, as HF's Python float
    removed = (cumulative <= threshold) & (top_p < 1) | (ascending == -torch.inf)
    return removed.sum(dim=-1, keepdim=True).clamp(max=ascending.shape[-1] - 1)


def process_logits(
    logits: Tensor,
    params: Sequence[SamplingParams],
    histories: Sequence[Sequence[int]] | None = None,
    output_counts: OutputCounts | None = None,
) -> tuple[Tensor, Tensor]:
    """The whole chain for a batch: (penalised logits before temperature, filtered logits after
    temperature and truncation). Both are float32 [B, V]; greedy rows use the first, sampled rows the second.

    histories: prompt + output ids of each row (for the repetition penalty); output_counts: per row a mapping
    token id → times generated (or a [B, V] count tensor), for the frequency and presence penalties.
    """
    if logits.dim() != 2 or logits.shape[0] != len(params):
        raise GlossaError(
            f"logits must be [batch, vocab] with one row per request, got {tuple(logits.shape)}"
        )
    logits = apply_logit_bias(logits.float(), params)
    device = logits.device
    if any(p.repetition_penalty != 1 for p in params):
        if histories is None or len(histories) != len(params):
            raise GlossaError("repetition_penalty needs the prompt + output ids of every row")
        logits = apply_repetition_penalty(logits, params, histories)
    if any(p.frequency_penalty or p.presence_penalty for p in params):
        if output_counts is None or len(output_counts) != len(params):
            raise GlossaError(
                "frequency_penalty and presence_penalty need the output token counts of every row"
            )
        logits = apply_frequency_presence(logits, params, output_counts)
    penalised = logits
    if all(p.is_greedy for p in params):
        return penalised, penalised
    logits = apply_temperature(logits, row_tensor(params, "temperature", device))
    if any(p.top_k > 0 or p.top_p < 1 or p.min_p > 0 for p in params):
        top_k = torch.tensor([[p.top_k] for p in params], device=device)
        logits = apply_top_k_top_p_min_p(
            logits,
            top_k,
            row_tensor(params, "top_p", device, torch.float64),
            row_tensor(params, "min_p", device),
        )
    return penalised, logits

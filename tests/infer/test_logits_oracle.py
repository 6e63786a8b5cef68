"""Our batched logits processors against transformers' processors, row by row, on random logits.

Our side processes every row in ONE call with different settings per row; the oracle runs each row alone
through the HF processor with that row's setting. Filtered logits must be identical, -inf included.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from glossa.infer.logits import process_logits
from glossa.infer.params import SamplingParams

VOCAB = 500


def random_logits(rows: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(rows, VOCAB, generator=generator) * 3


def filtered(logits: torch.Tensor, params: list[SamplingParams], histories=None, counts=None) -> torch.Tensor:
    return process_logits(logits, params, histories, counts)[1]


def assert_same(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert torch.equal(ours == -torch.inf, theirs == -torch.inf)
    kept = theirs != -torch.inf
    assert torch.equal(ours[kept], theirs[kept])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_k_matches_hf(seed):
    ks = [1, 5, 50, 499, 500, 1000, 0, -1]
    logits = random_logits(len(ks), seed)
    ours = filtered(logits, [SamplingParams(top_k=k) for k in ks])
    for row, k in enumerate(ks):
        theirs = logits[row : row + 1] if k <= 0 else TopKLogitsWarper(k)(None, logits[row : row + 1].clone())
        assert_same(ours[row : row + 1], theirs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_p_matches_hf(seed):
    ps = [0.01, 0.1, 0.5, 0.9, 0.95, 0.999, 1.0]
    logits = random_logits(len(ps), seed)
    ours = filtered(logits, [SamplingParams(top_p=p) for p in ps])
    for row, p in enumerate(ps):
        theirs = logits[row : row + 1] if p == 1 else TopPLogitsWarper(p)(None, logits[row : row + 1].clone())
        assert_same(ours[row : row + 1], theirs)
    assert (ours[0] != -torch.inf).sum() >= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_min_p_matches_hf(seed):
    ms = [0.0, 0.01, 0.05, 0.2, 0.5, 0.99]
    logits = random_logits(len(ms), seed)
    ours = filtered(logits, [SamplingParams(min_p=m) for m in ms])
    for row, m in enumerate(ms):
        theirs = logits[row : row + 1] if m == 0 else MinPLogitsWarper(m)(None, logits[row : row + 1].clone())
        assert_same(ours[row : row + 1], theirs)


def test_temperature_matches_hf():
    temperatures = [0.1, 0.5, 1.0, 1.7, 3.0]
    logits = random_logits(len(temperatures), 3)
    ours = filtered(logits, [SamplingParams(temperature=t) for t in temperatures])
    for row, t in enumerate(temperatures):
        assert torch.equal(
            ours[row : row + 1], TemperatureLogitsWarper(t)(None, logits[row : row + 1].clone())
        )


def test_repetition_penalty_matches_hf():
    penalties = [1.0, 1.2, 0.8, 2.0]
    histories = [[1, 2, 3], [5, 5, 7, 100, 499], [0, 9, 10], []]
    logits = random_logits(len(penalties), 4)
    ours = filtered(logits, [SamplingParams(repetition_penalty=r) for r in penalties], histories)
    for row, (penalty, history) in enumerate(zip(penalties, histories, strict=True)):
        ids = torch.tensor([history], dtype=torch.long).reshape(1, -1)
        theirs = RepetitionPenaltyLogitsProcessor(penalty)(ids, logits[row : row + 1].clone())
        assert torch.equal(ours[row : row + 1], theirs)


@pytest.mark.parametrize("every_row_has_top_k", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_full_chain_matches_hf_chain(seed, every_row_has_top_k):
    """Repetition penalty → temperature → top-k → top-p → min-p, rows with different settings, one call.
    With a top-k on every top-p row only the top max(k) candidates are sorted; without, the whole row."""
    settings = [
        dict(repetition_penalty=1.3, temperature=0.7, top_k=40, top_p=0.9, min_p=0.0),
        dict(repetition_penalty=1.0, temperature=1.5, top_k=0, top_p=0.5, min_p=0.05),
        dict(repetition_penalty=1.1, temperature=1.0, top_k=10, top_p=1.0, min_p=0.1),
        dict(repetition_penalty=0.9, temperature=0.3, top_k=200, top_p=0.95, min_p=0.02),
    ]
    if every_row_has_top_k:
        settings[1]["top_k"] = 300
    histories = [[3, 4, 5], [6], [7, 8, 8], list(range(0, 500, 7))]
    logits = random_logits(len(settings), 10 + seed)
    ours = filtered(logits, [SamplingParams(**s) for s in settings], histories)
    for row, s in enumerate(settings):
        theirs = logits[row : row + 1].clone()
        ids = torch.tensor([histories[row]], dtype=torch.long)
        if s["repetition_penalty"] != 1:
            theirs = RepetitionPenaltyLogitsProcessor(s["repetition_penalty"])(ids, theirs)
        theirs = TemperatureLogitsWarper(s["temperature"])(ids, theirs)
        if s["top_k"] > 0:
            theirs = TopKLogitsWarper(s["top_k"])(ids, theirs)
        if s["top_p"] < 1:
            theirs = TopPLogitsWarper(s["top_p"])(ids, theirs)
        if s["min_p"] > 0:
            theirs = MinPLogitsWarper(s["min_p"])(ids, theirs)
        assert_same(ours[row : row + 1], theirs)

"""KL and Jensen–Shannon divergence from logits: identities, bounds and torch's kl_div as the oracle."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from glossa.infer.divergence import js_divergence, kl_divergence


def logits(seed: int, rows: int = 16, vocab: int = 1000, scale: float = 4.0) -> torch.Tensor:
    return torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed)) * scale


def test_kl_of_a_distribution_with_itself_is_zero():
    p = logits(0)
    assert torch.allclose(kl_divergence(p, p), torch.zeros(16), atol=1e-6)
    assert torch.allclose(kl_divergence(p, p + 7.0), torch.zeros(16), atol=1e-6)  # softmax is shift-invariant


def test_kl_is_non_negative_and_asymmetric():
    p, q = logits(1), logits(2, scale=1.0)
    forward, backward = kl_divergence(p, q), kl_divergence(q, p)
    assert (forward > 0).all() and (backward > 0).all()
    assert not torch.allclose(forward, backward, rtol=1e-2)


def test_kl_matches_torch_kl_div():
    p, q = logits(3), logits(4)
    # F.kl_div(input=log Q, target=log P, log_target=True) sums P (log P - log Q)
    expected = F.kl_div(q.log_softmax(-1), p.log_softmax(-1), reduction="none", log_target=True).sum(-1)
    assert torch.allclose(kl_divergence(p, q), expected, rtol=1e-4, atol=1e-5)


def test_masked_tokens_contribute_nothing_or_infinity():
    p = torch.tensor([[0.0, 1.0, -torch.inf]])
    assert torch.isfinite(kl_divergence(p, torch.tensor([[0.5, 1.0, 2.0]]))).all()
    assert kl_divergence(torch.tensor([[0.0, 1.0, 2.0]]), p).item() == math.inf


def test_js_is_symmetric_and_bounded_by_ln2():
    p, q = logits(5), logits(6)
    forward, backward = js_divergence(p, q), js_divergence(q, p)
    assert torch.allclose(forward, backward, atol=1e-6)
    assert (forward >= 0).all() and (forward <= math.log(2)).all()
    assert torch.allclose(js_divergence(p, p), torch.zeros(16), atol=1e-6)
    disjoint = js_divergence(torch.tensor([0.0, -torch.inf]), torch.tensor([-torch.inf, 0.0]))
    assert disjoint.item() == pytest.approx(math.log(2), abs=1e-6)

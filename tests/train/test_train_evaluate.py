"""Bits per byte by hand on a tiny example; loss and perplexity agree with their definitions."""

from __future__ import annotations

import math

import pytest
import torch

from glossa.train.evaluate import bits_per_byte, evaluate


class Fixed(torch.nn.Module):
    """A 'model' whose logits are given: uniform over 4 tokens except where told."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return type("Out", (), {"logits": self.logits})()


def test_bits_per_byte_by_hand():
    # 3 targets over a 4-token vocabulary, uniform logits: each costs ln 4 nats.
    # token byte lengths: id 0 → 0 bytes (a special token), 1 → 1, 2 → 3, 3 → 2.
    logits = torch.zeros(1, 3, 4)
    targets = torch.tensor([[1, 2, 0]])
    lengths = torch.tensor([0, 1, 3, 2])
    result = evaluate(Fixed(logits), [(targets, targets)], byte_lengths=lengths)
    assert result["loss"] == pytest.approx(math.log(4))
    assert result["perplexity"] == pytest.approx(4.0)
    # the special token counts in neither sum: 2 · ln 4 nats over 1 + 3 bytes = 2·2 bits / 4 bytes
    assert result["bpb"] == pytest.approx(1.0)
    assert bits_per_byte(2 * math.log(4), 4) == pytest.approx(1.0)


def test_confident_model_has_low_loss():
    logits = torch.full((1, 2, 4), -20.0)
    logits[0, 0, 3] = logits[0, 1, 1] = 20.0
    result = evaluate(Fixed(logits), [(torch.tensor([[3, 1]]),) * 2], byte_lengths=torch.ones(4, dtype=int))
    assert result["loss"] < 1e-6 and result["bpb"] < 1e-6

"""Frequency/presence penalties (OpenAI's formula, by hand), logit bias, the chain's bad-input errors."""

from __future__ import annotations

import pytest
import torch

from glossa.errors import GlossaError
from glossa.infer.logits import process_logits, softmax
from glossa.infer.params import SamplingParams


def test_frequency_and_presence_follow_the_openai_formula():
    logits = torch.randn(3, 20, generator=torch.Generator().manual_seed(0))
    params = [
        SamplingParams(frequency_penalty=0.5, presence_penalty=0.0),
        SamplingParams(frequency_penalty=0.0, presence_penalty=1.5),
        SamplingParams(frequency_penalty=-1.0, presence_penalty=2.0),
    ]
    counts = [{1: 3, 2: 1}, {4: 2}, {0: 1, 19: 5}]
    penalised, _ = process_logits(logits, params, None, counts)
    expected = logits.clone()
    for row, (p, row_counts) in enumerate(zip(params, counts, strict=True)):
        for token_id, count in row_counts.items():
            expected[row, token_id] -= count * p.frequency_penalty + (count > 0) * p.presence_penalty
    assert torch.allclose(penalised, expected)
    as_tensor = torch.zeros(3, 20)
    for row, row_counts in enumerate(counts):
        for token_id, count in row_counts.items():
            as_tensor[row, token_id] = count
    assert torch.equal(process_logits(logits, params, None, as_tensor)[0], penalised)


def test_logit_bias_adds_to_the_named_tokens():
    logits = torch.zeros(2, 10)
    params = [SamplingParams(logit_bias={3: 5.0, 7: -100.0}), SamplingParams(logit_bias={"2": 1.5})]
    penalised, _ = process_logits(logits, params)
    expected = torch.zeros(2, 10)
    expected[0, 3], expected[0, 7], expected[1, 2] = 5.0, -100.0, 1.5
    assert torch.equal(penalised, expected)


def test_logit_bias_outside_the_vocabulary_is_a_glossa_error():
    with pytest.raises(GlossaError, match="outside the vocabulary"):
        process_logits(torch.zeros(1, 10), [SamplingParams(logit_bias={10: 1.0})])


def test_penalties_without_their_inputs_are_glossa_errors():
    with pytest.raises(GlossaError, match="repetition_penalty"):
        process_logits(torch.zeros(1, 10), [SamplingParams(repetition_penalty=1.2)])
    with pytest.raises(GlossaError, match="frequency_penalty"):
        process_logits(torch.zeros(1, 10), [SamplingParams(frequency_penalty=1.0)])
    with pytest.raises(GlossaError, match="one row per request"):
        process_logits(torch.zeros(2, 10), [SamplingParams()])


def test_softmax_is_shift_invariant_and_temperature_zero_is_one_hot():
    logits = torch.tensor([1.0, 3.0, 2.0])
    assert torch.allclose(softmax(logits), softmax(logits + 1000))
    assert torch.allclose(softmax(logits, 0.5), torch.softmax(logits * 2, -1))
    assert torch.equal(softmax(logits, 0), torch.tensor([0.0, 1.0, 0.0]))
    assert softmax(torch.tensor([1e4, 0.0])).isfinite().all()
    probs = softmax(torch.randn(4, 1000) * 10, 0.7)  # a probability distribution per row
    assert (probs >= 0).all() and torch.allclose(probs.sum(-1), torch.ones(4))

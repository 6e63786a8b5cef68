"""The speedrun's pieces on their own: scene cutting, the unigram baseline, budgets and step counts."""

from __future__ import annotations

import math

import numpy as np
import torch

from glossa.data.corpus import Document
from glossa.speedrun.budget import BUDGETS, budget, measure_step_seconds, steps_for
from glossa.speedrun.stages.data import scene_records
from glossa.speedrun.stages.evaluate import scored_targets, unigram_bits_per_byte


def test_scenes_are_cut_at_scene_headings_and_keep_everything():
    text = "A Play\n\nACT I\n\nSCENE I. A room.\n\nA\nHi.\n\nSCENE II. A hall.\n\nB\nBye.\n"
    play = Document(doc_id="p", title="A Play", genre="comedies", text=text, source="test")
    records = scene_records([play])
    assert [r["scene"] for r in records] == [1, 2]
    assert records[0]["text"].startswith("A Play") and "SCENE I." in records[0]["text"]
    assert records[1]["text"].startswith("SCENE II.")
    assert "".join(r["text"] for r in records) == text
    assert all(r["licence"] == "public-domain" and r["play"] == "A Play" for r in records)


def test_unigram_baseline_matches_a_hand_computation():
    train = np.array([0, 0, 1, 2], dtype=np.uint16)
    byte_lengths = torch.tensor([1, 2, 0])  # id 2 is a special token: it spells no bytes
    targets = np.array([0, 1, 2], dtype=np.uint16)
    counts = np.array([2, 1, 1]) + 1.0  # add-one smoothing
    probabilities = counts / counts.sum()
    expected_bits = -(math.log2(probabilities[0]) + math.log2(probabilities[1]))
    assert math.isclose(unigram_bits_per_byte(train, targets, byte_lengths), expected_bits / 3)


def test_scored_targets_are_the_full_windows_targets():
    tokens = np.arange(11)
    assert scored_targets(tokens, 4).tolist() == list(range(1, 9))


def test_steps_fit_the_budget_within_its_bounds():
    small = BUDGETS["small"]
    assert steps_for(small, step_seconds=0.5) == int(small.train_seconds / 0.5)
    assert steps_for(small, step_seconds=1e9) == small.min_steps
    assert steps_for(small, step_seconds=1e-9) == small.max_steps_cap


def test_gpu_budget_without_a_gpu_falls_back_to_small_with_a_note(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    chosen = budget("gpu")
    assert chosen.device == "cpu" and chosen.model == BUDGETS["small"].model and chosen.notes


def test_step_time_is_measured_on_the_model_itself():
    from glossa.models.config import ModelConfig
    from glossa.models.transformer import Transformer

    smoke = BUDGETS["smoke"]
    model = Transformer(ModelConfig.from_dict(dict(smoke.model, vocab_size=64, context_length=smoke.seq_len)))
    before = [p.detach().clone() for p in model.parameters()]
    seconds = measure_step_seconds(model, smoke, vocab_size=64, steps=1)
    assert 0 < seconds < 60
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # it trained

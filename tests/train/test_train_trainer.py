"""The loop's switches, in-process on tiny runs: gradient accumulation, gradient checkpointing, init schemes,
MoE auxiliary losses, early stopping, and what a run writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from glossa.train.config import load_config
from glossa.train.trainer import Trainer, init_weights

TINY = "--model={preset='llama-tiny', d_model=32, d_ff=64, n_heads=2, n_kv_heads=1}"


def _trainer(tmp_path, *overrides: str, tokens=None) -> Trainer:
    config = load_config(
        None,
        [TINY, "--batch_size=8", "--seq_len=16", "--max_steps=6", "--eval_batches=2", "--threads=1",
         "--display=false", "--deterministic=true", f"--out_dir={tmp_path}", *overrides],
    )  # fmt: skip
    rng = np.random.default_rng(0)
    config.tokens = tokens if tokens is not None else (np.arange(4000) * 7 + rng.integers(0, 3, 4000)) % 60
    return Trainer(config)


def test_gradient_accumulation_equals_the_big_batch(tmp_path):
    whole_split = "--eval_batches=100"  # both score the whole validation split, whatever their batch size
    big = _trainer(tmp_path / "a", "--batch_size=8", "--grad_accum=1", whole_split).train()
    small = _trainer(tmp_path / "b", "--batch_size=4", "--grad_accum=2", whole_split).train()
    assert small["train_loss"] == pytest.approx(big["train_loss"], abs=1e-5)
    assert small["val"]["loss"] == pytest.approx(big["val"]["loss"], abs=1e-5)


def test_gradient_checkpointing_changes_memory_not_results(tmp_path):
    plain = _trainer(tmp_path / "a").train()
    checkpointed = _trainer(tmp_path / "b", "--grad_checkpointing=true").train()
    assert checkpointed["train_loss"] == pytest.approx(plain["train_loss"], abs=1e-6)


@pytest.mark.parametrize(("scheme", "variance"), [("xavier", 2 / (64 + 32)), ("kaiming", 2 / 32)])
def test_init_schemes_set_the_variance(scheme, variance):
    layer = torch.nn.Sequential(torch.nn.Linear(32, 64))
    torch.manual_seed(0)
    init_weights(layer, scheme, 0.02)
    assert layer[0].weight.var().item() == pytest.approx(variance, rel=0.1)


def test_moe_aux_loss_is_trained(tmp_path):
    model = "--model={preset='moe-tiny', d_model=32, d_ff=32}"
    summary = _trainer(tmp_path, model, "--max_steps=4").train()
    assert np.isfinite(summary["train_loss"])
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["model"]["n_experts"] == 4 and record["git"]


def test_early_stopping_stops_when_validation_stops_improving(tmp_path):
    # train and validation are unrelated random streams: validation loss soon rises (overfitting)
    rng = np.random.default_rng(1)
    tokens = {"train": rng.integers(0, 60, 600), "val": rng.integers(0, 60, 600)}
    trainer = _trainer(
        tmp_path,
        "--max_steps=400",
        "--eval_every=5",
        "--patience=2",
        "--checkpoint_every=5",
        "--keep_last=1",
        "--optim.lr=1e-2",
        tokens=tokens,
    )
    summary = trainer.train()
    assert summary["stopped_early"] and summary["steps"] < 400
    assert summary["steps"] == summary["best_step"] + 2 * 5
    files = {p.name for p in tmp_path.iterdir()}
    assert {"run.json", "log.jsonl", "summary.json", "loss.png", "lr.png", "model", "checkpoints"} <= files
    assert (tmp_path / "checkpoints" / f"step_{summary['best_step']:06d}").is_dir()  # the best is kept

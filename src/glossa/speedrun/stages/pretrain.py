"""Stage 5: pretrain a small Llama-style model on the run's token shards, for a fixed wall-clock budget.

The budget (`glossa.speedrun.budget`) names the model shape, the batch and the minutes. The step time of
this very model on this very machine is measured first, and the step count is set so training fits the
minutes; then `glossa.train.Trainer` runs its usual loop: AdamW with decoupled weight decay, warmup then
cosine decay, gradient clipping, bf16 autocast where the budget asks, periodic validation, a final
checkpoint. The report shows the loss and learning-rate curves the trainer plots, and its throughput.
"""

from __future__ import annotations

import json
import shutil

import torch

from glossa.models.config import ModelConfig
from glossa.models.describe import describe
from glossa.models.transformer import Transformer
from glossa.speedrun.budget import budget as budget_named
from glossa.speedrun.budget import measure_step_seconds, steps_for
from glossa.speedrun.frame import ReportSection, Run
from glossa.tokenizers.batch import read_token_shard
from glossa.train.config import from_dict
from glossa.train.trainer import Trainer

EVALUATIONS = 5  # validation passes during training (the last one at the final step)


def train_config(run: Run, max_steps: int) -> dict:
    budget = run.artifacts["budget"]
    shards = run.artifacts["shards"]
    device = budget.device if budget.device == "cpu" or torch.cuda.is_available() else "cpu"
    return {
        "model": dict(budget.model, context_length=budget.seq_len),
        "data": {
            "train": shards["train"],
            "val": shards["validation"],
            "tokenizer": str(run.artifacts["tokenizer_path"]),
        },
        "optim": {"name": "adamw", "lr": budget.lr, "betas": [0.9, 0.95], "weight_decay": 0.1},
        "schedule": {"kind": "cosine", "warmup_steps": max(1, max_steps // 20), "min_lr_ratio": 0.1},
        "batch_size": budget.batch_size,
        "seq_len": budget.seq_len,
        "max_steps": max_steps,
        "precision": budget.precision,
        "device": device,
        "out_dir": str(run.run_dir / "train"),
        "eval_every": max(1, max_steps // EVALUATIONS),
        "eval_batches": budget.eval_batches,
        "log_every": max(1, max_steps // 100),
        "resume": False,
        "display": False,
    }


def pretrain(run: Run) -> ReportSection:
    budget = budget_named(run.settings.get("budget", "small"))
    run.artifacts["budget"] = budget
    vocab_size = run.artifacts["tokenizer"].vocab_size
    shape = ModelConfig.from_dict(dict(budget.model, vocab_size=vocab_size, context_length=budget.seq_len))
    run.status("measuring this machine's step time")
    step_seconds = measure_step_seconds(Transformer(shape), budget, vocab_size)
    max_steps = steps_for(budget, step_seconds, eval_seconds=budget.train_seconds * 0.05)
    config = from_dict(train_config(run, max_steps))

    def show(record: dict) -> None:
        run.status(
            f"step {record['step']}/{max_steps}  loss {record['loss']:.3f}  "
            f"{record['tokens_per_s']:,.0f} tok/s  ETA {record['eta_s']:.0f}s"
        )

    trainer = Trainer(config, on_step=show)
    summary = trainer.train()
    run.artifacts["model"] = trainer.model.eval()
    model_dir = run.run_dir / "train" / "model"
    shutil.copyfile(run.artifacts["tokenizer_path"].parent / "tokenizer.json", model_dir / "tokenizer.json")
    run.artifacts["model_dir"] = model_dir  # self-contained: `glossa serve --model` and load_model take it
    log = [json.loads(line) for line in (run.run_dir / "train" / "log.jsonl").read_text().splitlines()]
    throughput = [r["tokens_per_s"] for r in log if "tokens_per_s" in r]
    plots = []
    for name in ("loss", "lr"):
        source = run.run_dir / "train" / f"{name}.png"
        if source.exists():
            plots.append(run.plot_path(f"train_{name}"))
            shutil.copyfile(source, plots[-1])
    described = describe(trainer.model_config, context=budget.seq_len)
    tokens_seen = max_steps * budget.batch_size * budget.seq_len
    train_tokens = sum(read_token_shard(path)[0].token_count for path in run.artifacts["shards"]["train"])
    body = "\n".join(
        [
            f"Budget `{budget.name}`: a Llama-style decoder (RoPE, RMSNorm, SwiGLU, tied embeddings) with "
            f"{described.total:,} parameters ({shape.n_layers} layers, width {shape.d_model}, "
            f"{shape.n_heads} heads, {shape.n_kv_heads} KV heads), {budget.precision}, batch "
            f"{budget.batch_size} × {budget.seq_len} tokens. A step took {step_seconds:.2f} s when measured, "
            f"so {max_steps:,} steps fit the {budget.train_seconds:.0f} s budget: {tokens_seen:,} tokens, "
            f"{tokens_seen / max(train_tokens, 1):.2f} epochs of the {train_tokens:,} training tokens.",
            *[f"\n*{note}*" for note in budget.notes],
            "",
            "| | value |",
            "|---|---:|",
            f"| final training loss (nats/token) | {summary['train_loss']:.4f} |",
            f"| best validation loss | {summary['best_val_loss']:.4f} (step {summary['best_step']}) |",
            f"| mean throughput | {sum(throughput) / max(len(throughput), 1):,.0f} tokens/s |",
            f"| weights | `{(run.run_dir / 'train' / 'model').relative_to(run.run_dir)}` |",
        ]
    )
    return ReportSection(
        "Pretraining: a small Llama-style model",
        body,
        plots=plots,
        metrics={
            "parameters": described.total,
            "steps": max_steps,
            "train_loss": round(summary["train_loss"], 4),
            "best_val_loss": round(summary["best_val_loss"], 4),
            "tokens_per_s": round(throughput[-1] if throughput else 0.0, 1),
        },
    )

"""Speedrun budgets: how big a model the run trains and for how long, by name.

A budget fixes the model shape, the batch and a wall-clock time for pretraining, not a step count: the
machine's speed is measured first (a few optimizer steps on random tokens, `measure_step_seconds`) and the
step count is whatever fits the time, so the learning-rate schedule still runs its whole course and `small`
finishes in about the same minutes on any CPU (the idea of modded-nanogpt's fixed-time speedruns, turned
around: fixed time, best loss).

    small    the default: a 4.2M-parameter Llama-style model, 6 minutes of training on 2 CPU cores;
             the whole speedrun stays within 10 minutes
    medium   6 layers of width 384, 20 minutes
    gpu      a GPT-2-small-sized model for 10 minutes on a GPU in bf16 (falls back to the CPU with a note)
    smoke    seconds, for tests of the flow itself
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from glossa.errors import GlossaError


@dataclass(frozen=True)
class Budget:
    name: str
    model: dict[str, Any]
    train_seconds: float
    batch_size: int
    seq_len: int
    lr: float
    precision: str = "fp32"
    device: str = "cpu"
    max_steps_cap: int = 100_000
    min_steps: int = 20
    eval_batches: int = 8
    sample_tokens: int = 48
    serve_requests: int = 32  # completions streamed by the serving stage's benchmark
    serve_tokens: int = 32  # tokens each
    notes: list[str] = field(default_factory=list)


_LLAMA: dict[str, Any] = dict(
    architecture="decoder", ffn_kind="swiglu", norm_kind="rmsnorm", norm_position="pre", position_kind="rope",
    bias=False, tie_embeddings=True,
)  # fmt: skip

BUDGETS: dict[str, Budget] = {
    "small": Budget(
        "small",
        dict(**_LLAMA, d_model=256, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=688),
        train_seconds=360,
        batch_size=16,
        seq_len=128,
        lr=2e-3,
        precision="bf16",  # bf16 autocast: 1.5x fp32's steps per second on these CPUs (AVX-512 BF16)
    ),
    "medium": Budget(
        "medium",
        dict(**_LLAMA, d_model=384, n_layers=6, n_heads=6, n_kv_heads=2, d_ff=1024),
        train_seconds=1200,
        batch_size=16,
        seq_len=256,
        lr=1.5e-3,
        precision="bf16",
    ),
    "gpu": Budget(
        "gpu",
        dict(**_LLAMA, d_model=768, n_layers=12, n_heads=12, n_kv_heads=4, d_ff=2048),
        train_seconds=600,
        batch_size=32,
        seq_len=512,
        lr=1e-3,
        precision="bf16",
        device="cuda",
        eval_batches=32,
    ),
    "smoke": Budget(
        "smoke",
        dict(**_LLAMA, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=172),
        train_seconds=4,
        batch_size=8,
        seq_len=64,
        lr=3e-3,
        max_steps_cap=60,
        min_steps=10,
        eval_batches=2,
        sample_tokens=12,
        serve_requests=4,
        serve_tokens=8,
    ),
}


def budget(name: str) -> Budget:
    """The named budget; `gpu` without a GPU runs the `small` budget on the CPU, with a note saying so."""
    if name not in BUDGETS:
        raise GlossaError(f"no speedrun budget {name!r}: choose one of small, medium, gpu")
    chosen = BUDGETS[name]
    if chosen.device == "cuda" and not torch.cuda.is_available():
        small = BUDGETS["small"]
        note = "no GPU is present, so the gpu budget ran the small budget on the CPU"
        return Budget(**{**small.__dict__, "name": "gpu→small", "notes": [note]})
    return chosen


def measure_step_seconds(model: torch.nn.Module, budget: Budget, vocab_size: int, steps: int = 5) -> float:
    """Seconds per optimizer step of `model` at the budget's batch, timed on random tokens (one warm-up step
    first). The model is a throwaway copy of the real one's shape: its weights are changed."""
    device = budget.device if budget.device == "cpu" or torch.cuda.is_available() else "cpu"
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    shape = (budget.batch_size, budget.seq_len)
    timings = []
    for _ in range(steps + 1):
        x = torch.randint(0, vocab_size, shape, device=device)
        started = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=budget.precision == "bf16"):
            logits = model(x).logits
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), x.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - started)
    return min(timings[1:])


def steps_for(budget: Budget, step_seconds: float, eval_seconds: float = 0.0) -> int:
    """How many steps fit in the budget's training time, leaving room for the evaluations."""
    usable = max(budget.train_seconds - eval_seconds, 0.0)
    return max(budget.min_steps, min(budget.max_steps_cap, int(usable / step_seconds)))

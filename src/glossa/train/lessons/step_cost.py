"""Mixed precision and gradient checkpointing (§11): what one training step costs in memory, and the loss.

One forward + backward of a small Llama-style decoder, four ways:

    fp32                   every activation stored in float32 for the backward pass
    fp32 + checkpointing   each block keeps only its input; the rest is recomputed during backward
    bf16 autocast          matmuls run in bfloat16 (half the bytes per stored activation); the weights,
                           the gradients and the loss stay float32 — the "master" copy that keeps accuracy
    bf16 + checkpointing   both

For each: the bytes held at the end of the forward pass (the activations kept for backward), the peak bytes
during forward + backward (`TensorMemory`), the loss, and how far the loss and the gradients move from fp32.
Checkpointing leaves every number identical and cuts the memory held for backward to about each block's
input (5× less here), for one more forward pass per block during backward. bf16 moves the loss by ~1e-5
and the gradients by under 1% of their largest value, which is why it trains as well as fp32 (fp16, with 5
exponent bits, also needs loss scaling to keep small gradients from underflowing; bf16 has float32's range).
The time column is one step without the memory tracker (its per-operation hooks would dominate): noisy.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch

from glossa.models.presets import preset
from glossa.models.transformer import Transformer
from glossa.train.lessons.memory import TensorMemory
from glossa.train.trainer import enable_gradient_checkpointing, language_model_loss

VARIANTS = (("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True))


@dataclass(frozen=True)
class StepCost:
    precision: str
    checkpointing: bool
    activation_bytes: int  # held after forward, waiting for backward
    peak_bytes: int  # during forward and backward
    loss: float
    loss_difference: float  # |loss - fp32 loss|
    grad_difference: float  # max |grad - fp32 grad| / max |fp32 grad|
    seconds: float


def step_model(seed: int = 0, layers: int = 4, width: int = 128, seq_len: int = 128) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(
        preset("llama-tiny", n_layers=layers, d_model=width, d_ff=4 * width, context_length=seq_len)
    )


def training_step(
    model: Transformer, x: torch.Tensor, y: torch.Tensor, precision: str, memory: TensorMemory | None = None
) -> tuple[float, int]:
    """Forward (under bf16 autocast when asked) and backward; the loss, and the bytes that `memory` (when
    given) saw held between forward and backward — the activations kept for the backward pass."""
    model.zero_grad(set_to_none=True)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    with memory if memory is not None else contextlib.nullcontext():
        with autocast:
            loss = language_model_loss(model(x), y)  # logits are cast to float32 for the loss
        activations = memory.current if memory is not None else 0
        loss.backward()
    return loss.item(), activations


def step_cost_lesson(batch: int = 4, seq_len: int = 128, seed: int = 0) -> list[StepCost]:
    """The four variants of one step on the same random batch; the first (plain fp32) is the reference."""
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, 256, (batch, seq_len + 1), generator=generator)
    x, y = rows[:, :-1], rows[:, 1:]
    results, reference = [], None
    for precision, checkpointing in VARIANTS:
        model = step_model(seed, seq_len=seq_len)
        if checkpointing:
            enable_gradient_checkpointing(model)
        memory = TensorMemory()
        loss, activations = training_step(model, x, y, precision, memory)
        grads = [p.grad.clone() for p in model.parameters()]
        started = time.perf_counter()  # timed again without the memory tracker, whose hooks cost time
        training_step(model, x, y, precision)
        seconds = time.perf_counter() - started
        if reference is None:
            reference = (loss, grads, max(g.abs().max().item() for g in grads))
        ref_loss, ref_grads, ref_scale = reference
        grad_difference = max((g - r).abs().max().item() for g, r in zip(grads, ref_grads, strict=True))
        results.append(
            StepCost(
                precision=precision,
                checkpointing=checkpointing,
                activation_bytes=activations,
                peak_bytes=memory.peak,
                loss=loss,
                loss_difference=abs(loss - ref_loss),
                grad_difference=grad_difference / ref_scale,
                seconds=seconds,
            )
        )
    return results

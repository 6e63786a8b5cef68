"""Gradient clipping by global norm (§11): what one bad batch does to training, with and without it.

    g = all gradients as one vector;  if ‖g‖₂ > c:  g ← g · c / ‖g‖₂

The direction of the step is kept and only its length is capped, so an ordinary step (‖g‖ ≤ c) is untouched
while a spike — a batch of outliers, a loss blow-up — moves the weights by at most lr·c. `clip_grad_norm` is
that rule written out (the trainer calls torch's `clip_grad_norm_`, which the tests use as the oracle).

The lesson trains a small MLP regressor with plain SGD twice from the same start, on the same batches; one
batch has inputs 100× larger than the rest (an exploding gradient). Without clipping that one step throws
the weights far away and the loss jumps by orders of magnitude; with clipping at c the step stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from glossa.errors import GlossaError
from glossa.train.optim import SGD


def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float) -> float:
    """Scale the gradients in place so their global L2 norm is at most `max_norm`; return the norm before."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads:
            g.mul_(scale)
    return norm


@dataclass(frozen=True)
class ClipStep:
    step: int
    spike: bool
    loss_clipped: float  # loss of the batch before the step, clipped run
    norm_before: float  # gradient norm before clipping, clipped run
    norm_after: float  # ... after clipping
    loss_unclipped: float
    norm_unclipped: float


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))


def _batches(steps: int, spike_step: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    target = torch.tensor([[0.1], [-0.2], [0.05], [0.3]])
    batches = []
    for step in range(1, steps + 1):
        x = torch.randn(16, 4, generator=generator)
        if step == spike_step:
            x = x * 100
        batches.append((x, x @ target))
    return batches


def clipping_lesson(
    max_norm: float = 1.0, steps: int = 8, spike_step: int = 4, lr: float = 0.1, seed: int = 0
) -> list[ClipStep]:
    """Step by step: loss and gradient norm of the clipped run and of the unclipped one."""
    if max_norm <= 0:
        raise GlossaError(f"--max-norm must be positive, not {max_norm}")
    if not 1 <= spike_step <= steps:
        raise GlossaError(f"--spike-step must be between 1 and --steps ({steps}), not {spike_step}")
    batches = _batches(steps, spike_step, seed)
    runs = {}
    for clip in (True, False):
        model = _model(seed)
        optimizer = SGD(model.parameters(), lr=lr)
        records = []
        for x, y in batches:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            before = clip_grad_norm(model.parameters(), max_norm if clip else float("inf"))
            after = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()])).item()
            optimizer.step()
            records.append((loss.item(), before, after))
        runs[clip] = records
    return [
        ClipStep(step, step == spike_step, *runs[True][step - 1], *runs[False][step - 1][:2])
        for step in range(1, steps + 1)
    ]

"""Batch size, gradient accumulation and data parallelism compute the same gradient (§12–13).

The loss of a batch is the mean over its examples, so its gradient is the mean of the examples' gradients.
Three ways to get the gradient of one batch of B = micro × accum sequences:

    one batch       loss(all B).backward()                                   memory for B sequences at once
    accumulation    for each of `accum` micro-batches: (loss(micro) / accum).backward()
                    the gradients add up in .grad; memory for one micro-batch only
    data parallel   R processes each take B / R sequences and run their own backward, then all-reduce:
                    grad ← (Σ over ranks of grad) / R          (`glossa.train.lessons.data_parallel`)

They agree to float32 rounding (≈1e-9 here), which is why the trainer can promise that `batch_size ×
grad_accum × processes` is the effective batch whatever mix of the three a machine can afford.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from glossa.errors import GlossaError
from glossa.models.presets import preset
from glossa.models.transformer import Transformer
from glossa.train.trainer import language_model_loss

SEQ_LEN = 32


def tiny_model(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(preset("llama-tiny", context_length=SEQ_LEN))


def random_batch(size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, 256, (size, SEQ_LEN + 1), generator=generator)
    return rows[:, :-1], rows[:, 1:]


def batch_gradient(
    model: Transformer, x: torch.Tensor, y: torch.Tensor, pieces: int = 1
) -> list[torch.Tensor]:
    """The gradient of the mean loss over (x, y), computed in `pieces` accumulated micro-batches."""
    if x.shape[0] % pieces:
        raise GlossaError(f"a batch of {x.shape[0]} does not split into {pieces} equal micro-batches")
    model.zero_grad(set_to_none=True)
    for xs, ys in zip(x.chunk(pieces), y.chunk(pieces), strict=True):
        (language_model_loss(model(xs), ys) / pieces).backward()
    return [p.grad.clone() for p in model.parameters()]


def max_difference(left: list[torch.Tensor], right: list[torch.Tensor]) -> float:
    return max((a - b).abs().max().item() for a, b in zip(left, right, strict=True))


def global_norm(grads: list[torch.Tensor]) -> float:
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()


@dataclass(frozen=True)
class GradientWay:
    name: str
    layout: str  # how the batch was cut
    norm: float
    max_abs_difference: float  # against the one-batch gradient


def accumulation_lesson(micro: int = 8, accum: int = 4, ranks: int = 0) -> list[GradientWay]:
    """The one-batch gradient, the accumulated one and (with ranks ≥ 2) the all-reduced one, compared."""
    if micro < 1 or accum < 1:
        raise GlossaError(f"--micro and --accum must be at least 1, not {micro} and {accum}")
    if ranks and (ranks < 2 or (micro * accum) % ranks):
        raise GlossaError(f"--ranks must be 0 (off) or at least 2 and divide the batch of {micro * accum}")
    model = tiny_model()
    x, y = random_batch(micro * accum)
    whole = batch_gradient(model, x, y)
    accumulated = batch_gradient(model, x, y, pieces=accum)
    ways = [
        GradientWay("one batch", f"1 × {micro * accum}", global_norm(whole), 0.0),
        GradientWay(
            "accumulation", f"{accum} × {micro}", global_norm(accumulated), max_difference(whole, accumulated)
        ),
    ]
    if ranks:
        from glossa.train.lessons.data_parallel import all_reduced_gradient

        reduced = all_reduced_gradient(model, x, y, ranks)
        ways.append(
            GradientWay(
                "data parallel",
                f"{ranks} ranks × {x.shape[0] // ranks}",
                global_norm(reduced),
                max_difference(whole, reduced),
            )
        )
    return ways

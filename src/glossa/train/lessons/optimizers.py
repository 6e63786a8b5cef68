"""Gradient descent, SGD, Adam, AdamW and Muon on a problem whose minimum is known (§11).

The problem is linear least squares: find W (8 × 4) minimising L(W) = ½·mean ‖x·W - y‖² over 512 examples
with y = x·W* + noise. Its minimum comes from the normal equations (`torch.linalg.lstsq`), so every curve is
shown as the *excess* loss L(W) - L(W_best), which goes to zero for an optimizer that converges. The input
features have scales from 1 to 3, so the loss surface is an elongated bowl (condition number 9):

    gd      full-batch gradient descent: W ← W - η·∇L(W), every step sees all 512 examples
    sgd     the same rule on a random mini-batch: a noisy but unbiased gradient, so it stalls at a noise floor
            set by the learning rate and the batch size instead of reaching zero
    adam    per-coordinate step sizes from moving averages of g and g², which undo the bad scaling
    adamw   Adam with decoupled weight decay (which pulls W toward zero: it converges near, not at, W_best)
    muon    momentum, then an orthogonalised update (Newton–Schulz): every direction of W moves equally

All of them are glossa's own optimizers (`glossa.train.optim`) on one shared starting point W = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from glossa.errors import GlossaError
from glossa.train.optim import SGD, AdamW, Muon

OPTIMIZERS = ("gd", "sgd", "adam", "adamw", "muon")
DEFAULT_LR = {"gd": 0.1, "sgd": 0.1, "adam": 0.1, "adamw": 0.1, "muon": 0.1}


@dataclass(frozen=True)
class LeastSquares:
    x: torch.Tensor  # (n, 8)
    y: torch.Tensor  # (n, 4)
    best_loss: float

    def loss(self, w: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        x, y = (self.x, self.y) if rows is None else (self.x[rows], self.y[rows])
        return 0.5 * (x @ w - y).pow(2).sum(dim=1).mean()


def least_squares(n: int = 512, seed: int = 0) -> LeastSquares:
    generator = torch.Generator().manual_seed(seed)
    scales = torch.linspace(1.0, 3.0, 8)
    x = torch.randn(n, 8, generator=generator) * scales
    w_true = torch.randn(8, 4, generator=generator)
    y = x @ w_true + 0.5 * torch.randn(n, 4, generator=generator)
    w_best = torch.linalg.lstsq(x, y).solution
    problem = LeastSquares(x, y, 0.0)
    return LeastSquares(x, y, problem.loss(w_best).item())


def _optimizer(name: str, w: torch.Tensor, lr: float) -> torch.optim.Optimizer:
    if name in ("gd", "sgd"):
        return SGD([w], lr=lr)
    if name in ("adam", "adamw"):
        return AdamW([w], lr=lr, weight_decay=0.01 if name == "adamw" else 0.0, decoupled=name == "adamw")
    return Muon([dict(params=[w], muon=True, lr=lr, momentum=0.9)])


def excess_loss_curve(
    name: str, problem: LeastSquares, steps: int, batch: int, lr: float | None = None, seed: int = 0
) -> list[float]:
    """Excess full-data loss before the first step and after each of `steps` steps of optimizer `name`."""
    if name not in OPTIMIZERS:
        raise GlossaError(f"unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")
    n = problem.x.shape[0]
    if not 1 <= batch <= n:
        raise GlossaError(f"--batch must be between 1 and {n} (the number of examples), not {batch}")
    if steps < 1:
        raise GlossaError(f"--steps must be at least 1, not {steps}")
    w = torch.zeros(8, 4, requires_grad=True)
    optimizer = _optimizer(name, w, lr if lr is not None else DEFAULT_LR[name])
    generator = torch.Generator().manual_seed(seed)
    curve = []
    for _ in range(steps):
        with torch.no_grad():
            curve.append(problem.loss(w).item() - problem.best_loss)
        rows = None if name == "gd" else torch.randperm(n, generator=generator)[:batch]
        optimizer.zero_grad()
        problem.loss(w, rows).backward()
        optimizer.step()
    with torch.no_grad():
        curve.append(problem.loss(w).item() - problem.best_loss)
    return curve

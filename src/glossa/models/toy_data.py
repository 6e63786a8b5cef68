"""2-D toy distributions and two ways to score samples from a generative model (seed §7, §14).

A generative model is judged by how close its samples are to the data distribution. In two dimensions that is
cheap to measure and easy to see, which is why GAN, VAE and diffusion papers start here:

- `ring`   8 Gaussians (std 0.1) evenly spaced on a circle of radius 2: well-separated modes, the classic
           test for **mode collapse** (a generator that covers only some of them);
- `moons`  two interleaved half circles with Gaussian noise;
- `spiral` one arm winding 1.5 turns outwards, with Gaussian noise.

Positions along the moons and the spiral are drawn from a uniform distribution, then Gaussian noise is added;
every draw comes from a `torch.Generator` seeded by the caller, so the same seed gives the same points.

Scores:

- `mmd2` — the squared maximum mean discrepancy with a Gaussian kernel k(a, b) = exp(-|a - b|² / (2h²)),
  MMD² = E k(x, x') + E k(y, y') - 2 E k(x, y), estimated without bias (Gretton et al., 2012): the two
  within-sample means leave out the diagonal i = j. It is 0 in expectation when both sets come from one
  distribution (the estimate can then dip slightly below 0) and grows as they differ. h = 0.5 by default:
  narrower than the gap between ring modes (≈ 1.53), wider than a mode (0.1), so it sees both misplaced mass
  and missing modes.
- `mode_coverage` — for the ring: how many generated points land within 3σ of each mode, how many modes get at
  least 2 % of the points, and the share of points near any mode at all. A collapsed generator can score a
  decent MMD² while covering 3 of 8 modes; this number says so directly.

>>> from glossa.models.toy_data import toy_samples, mmd2
>>> real, other = toy_samples("ring", 1000, seed=0), toy_samples("ring", 1000, seed=1)
>>> abs(mmd2(real, other)) < 0.01
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from glossa.errors import GlossaError

TOY_DATASETS = ("ring", "moons", "spiral")
RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.1
DEFAULT_BANDWIDTH = 0.5


def ring_centers(modes: int = RING_MODES, radius: float = RING_RADIUS) -> Tensor:
    """The (modes, 2) centres of the ring's Gaussians, the first on the positive x axis."""
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def toy_samples(name: str, n: int, seed: int = 0) -> Tensor:
    """n points (float32, shape (n, 2)) from the named toy distribution, reproducible from `seed`."""
    if name not in TOY_DATASETS:
        raise GlossaError(f"unknown toy data {name!r}: use one of {', '.join(TOY_DATASETS)}")
    if n < 1:
        raise GlossaError(f"the number of samples must be at least 1, not {n}")
    generator = torch.Generator().manual_seed(seed)
    if name == "ring":
        modes = torch.randint(0, RING_MODES, (n,), generator=generator)
        return ring_centers()[modes] + RING_STD * torch.randn(n, 2, generator=generator)
    if name == "moons":
        angle = math.pi * torch.rand(n, generator=generator)
        lower = torch.rand(n, generator=generator) < 0.5
        x = torch.where(lower, 1 - angle.cos(), angle.cos())
        y = torch.where(lower, 0.5 - angle.sin(), angle.sin())
        points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6  # centred, about as wide as the ring
        return points + 0.1 * torch.randn(n, 2, generator=generator)
    # spiral: sqrt spreads the points evenly along the arm's length rather than its angle
    angle = 3 * math.pi * torch.rand(n, generator=generator).sqrt()
    radius = 2.2 * angle / (3 * math.pi)
    points = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    return points + 0.08 * torch.randn(n, 2, generator=generator)


def gaussian_kernel(x: Tensor, y: Tensor, bandwidth: float = DEFAULT_BANDWIDTH) -> Tensor:
    """The (len(x), len(y)) matrix exp(-|x_i - y_j|² / (2 h²)), computed in float64."""
    squared = torch.cdist(x.double(), y.double()).square()
    return torch.exp(-squared / (2 * bandwidth**2))


def mmd2(x: Tensor, y: Tensor, bandwidth: float = DEFAULT_BANDWIDTH) -> float:
    """The unbiased estimate of MMD² between samples x (m, d) and y (n, d), m, n ≥ 2."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise GlossaError(f"MMD² needs at least 2 points in each sample, not {m} and {n}")
    k_xx, k_yy, k_xy = (
        gaussian_kernel(x, x, bandwidth),
        gaussian_kernel(y, y, bandwidth),
        gaussian_kernel(x, y, bandwidth),
    )
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


@dataclass(frozen=True)
class ModeCoverage:
    """Where generated points fall relative to the ring's modes."""

    counts: list[int]  # points within 3σ of each mode
    covered: int  # modes holding at least `min_share` of all points
    near_share: float  # share of points within 3σ of some mode ("high-quality samples")


def mode_coverage(
    samples: Tensor, centers: Tensor | None = None, std: float = RING_STD, min_share: float = 0.02
) -> ModeCoverage:
    """Count generated points within 3·std of each centre (ring modes by default); see the module notes."""
    centers = ring_centers() if centers is None else centers
    distance, nearest = torch.cdist(samples.float(), centers.float()).min(dim=1)
    near = distance <= 3 * std
    counts = torch.bincount(nearest[near], minlength=len(centers))
    covered = int((counts >= min_share * len(samples)).sum())
    return ModeCoverage([int(c) for c in counts], covered, float(near.float().mean()))

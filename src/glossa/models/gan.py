"""A generative adversarial network on 2-D points (Goodfellow et al., 2014; seed §7, §14 mode collapse).

Two MLPs play a game. The generator G maps noise z ~ N(0, I) to a point; the discriminator D maps a point to
a logit, "how real does this look". They take turns:

1. discriminator step: raise log D(x) + log(1 - D(G(z))) — call real points real and generated ones fake;
   as a loss, BCE(D(x), 1) + BCE(D(G(z)), 0);
2. generator step: the **non-saturating** loss -log D(G(z)) = BCE(D(G(z)), 1). The minimax form
   log(1 - D(G(z))) has almost no gradient early on, when D rejects every fake with confidence; this one
   has its strongest gradient exactly then. Same fixed point, better-behaved training.

At the game's equilibrium G's distribution equals the data's and D outputs 1/2 everywhere, so D's accuracy
on a batch of real and fake points (`history["discriminator_accuracy"]`) drifts from 1 towards 1/2 as G
improves. Training does not converge to that point reliably: the pair can oscillate, and G may cover only
some modes of the data (mode collapse) — `glossa.models.toy_data.mode_coverage` counts them.

Stabiliser: the **R1 penalty** (Mescheder et al., 2018) adds (γ/2)·E|∇ₓ D(x)|² on real points to D's loss,
so D cannot grow steep cliffs around the data that fling G from one mode to the next. Observed on the ring
(2000 steps, seeds 0-5): with γ = 1 every seed covers all 8 modes, MMD² 0.003-0.006, D accuracy 0.52-0.57;
with `r1_weight=0` (the plain GAN) seeds 2 and 5 collapse onto a single mode (MMD² 0.81, D accuracy
0.75-0.83) and the other four cover 6-8 modes (MMD² 0.009-0.047).

Other choices that make this small GAN train in seconds on a CPU: Adam with β₁ = 0.5 (the DCGAN setting;
Radford et al. found 0.9 made training oscillate), equal learning rates, one D step per G step, LeakyReLU
in D, a wider noise than data (8 dimensions), MLPs of width 64, and fresh real and noise batches at every
step.

>>> from glossa.models.toy_data import toy_samples
>>> generator, history = train_gan(toy_samples("ring", 4096), steps=200, seed=0)
>>> sample(generator, 5, seed=1).shape
torch.Size([5, 2])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glossa.errors import GlossaError

NOISE_DIM = 8


class Generator(nn.Module):
    """Noise z (noise_dim) → a point (data_dim)."""

    def __init__(self, noise_dim: int = NOISE_DIM, data_dim: int = 2, hidden: int = 64) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.net = nn.Sequential(
            nn.Linear(noise_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, data_dim),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """A point → one logit; sigmoid(logit) is the probability that the point is real."""

    def __init__(self, data_dim: int = 2, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(data_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """BCE(D(x), 1) + BCE(D(G(z)), 0): -log D(x) - log(1 - D(G(z))), averaged over each batch."""
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss -log D(G(z)) = BCE(D(G(z)), 1)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def r1_penalty(real_logits: Tensor, points: Tensor, n_real: int) -> Tensor:
    """E|∇ₓ D(x)|² over the real points (the first `n_real` rows of `points`), kept differentiable."""
    (gradient,) = torch.autograd.grad(real_logits.sum(), points, create_graph=True)
    return gradient[:n_real].square().sum(dim=1).mean()


def train_gan(
    data: Tensor,
    steps: int = 2000,
    seed: int = 0,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    hidden: int = 64,
    r1_weight: float = 1.0,
    callback: Callable[[int], None] | None = None,
) -> tuple[Generator, dict[str, list[float]]]:
    """Train G and D on `data` (n, d) by alternating updates; return G and the per-step history.

    `r1_weight` is γ of the R1 penalty (0: the plain GAN). history holds, per step, "discriminator_loss"
    (the adversarial part, without the penalty: 2 ln 2 ≈ 1.386 at equilibrium), "r1_penalty",
    "generator_loss" (ln 2 ≈ 0.693 at equilibrium) and "discriminator_accuracy" (on the step's real and
    fake batch, before D's update). Seeded: the same data, steps and seed give the same generator.
    `callback(step)` is called after each step (a progress bar).
    """
    if steps < 1:
        raise GlossaError(f"steps must be at least 1, not {steps}")
    history: dict[str, list[float]] = {
        "discriminator_loss": [],
        "r1_penalty": [],
        "generator_loss": [],
        "discriminator_accuracy": [],
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator, discriminator = (
            Generator(data_dim=data.shape[1], hidden=hidden),
            Discriminator(data.shape[1], hidden),
        )
        g_optimizer = torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=(0.5, 0.999))
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=learning_rate, betas=(0.5, 0.999))
        for step in range(steps):
            real = data[torch.randint(0, len(data), (batch_size,))]
            fake = generator(torch.randn(batch_size, generator.noise_dim))

            points = torch.cat([real, fake.detach()]).requires_grad_(r1_weight > 0)
            real_logits, fake_logits = discriminator(points).split(batch_size)
            d_loss = discriminator_loss(real_logits, fake_logits)
            penalty = r1_penalty(real_logits, points, batch_size) if r1_weight > 0 else torch.zeros(())
            d_optimizer.zero_grad(set_to_none=True)
            (d_loss + r1_weight / 2 * penalty).backward()
            d_optimizer.step()

            g_loss = generator_loss(discriminator(fake))
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()

            correct = (real_logits > 0).sum() + (fake_logits <= 0).sum()
            history["discriminator_loss"].append(float(d_loss.detach()))
            history["r1_penalty"].append(float(penalty.detach()))
            history["generator_loss"].append(float(g_loss.detach()))
            history["discriminator_accuracy"].append(float(correct) / (2 * batch_size))
            if callback is not None:
                callback(step + 1)
    generator.eval()
    return generator, history


@torch.no_grad()
def sample(generator: Generator, n: int, seed: int = 0) -> Tensor:
    """n points G(z), z ~ N(0, I) drawn from a generator seeded by `seed`."""
    noise = torch.randn(n, generator.noise_dim, generator=torch.Generator().manual_seed(seed))
    return generator(noise)

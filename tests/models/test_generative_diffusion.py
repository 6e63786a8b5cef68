"""DDPM (glossa.models.diffusion): the noise schedules, the closed-form forward process against the
step-by-step one, and that a trained model's ancestral samples cover the ring."""

import math

import pytest
import torch

from glossa.errors import GlossaError
from glossa.models import diffusion
from glossa.models.toy_data import mmd2, mode_coverage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(ring):
    return diffusion.train_diffusion(ring[0], steps=2000, seed=0)


def test_linear_schedule_is_ddpms_scaled_to_the_number_of_steps():
    ddpm = diffusion.noise_schedule("linear", 1000)
    assert float(ddpm.betas[0]) == pytest.approx(1e-4) and float(ddpm.betas[-1]) == pytest.approx(0.02)
    short = diffusion.noise_schedule("linear", 100)
    assert float(short.betas[0]) == pytest.approx(1e-3) and float(short.betas[-1]) == pytest.approx(0.2)
    assert torch.all(short.betas[1:] > short.betas[:-1])


def test_cosine_schedule_follows_its_formula():
    schedule = diffusion.noise_schedule("cosine", 100)
    f = [math.cos((t / 100 + 0.008) / 1.008 * math.pi / 2) ** 2 for t in range(101)]
    for t in (1, 10, 50, 90):
        assert float(schedule.alpha_bars[t - 1]) == pytest.approx(f[t] / f[0], rel=1e-9)
    assert float(schedule.betas.max()) == pytest.approx(0.999)  # the last step is clipped
    assert torch.all((schedule.betas > 0) & (schedule.betas < 1))


@pytest.mark.parametrize("kind", diffusion.SCHEDULES)
def test_every_schedule_ends_in_noise(kind):
    schedule = diffusion.noise_schedule(kind, 100)
    assert float(schedule.alpha_bars[-1]) < 1e-4
    assert torch.all(schedule.alpha_bars[1:] < schedule.alpha_bars[:-1])
    posterior = schedule.posterior_variances
    assert float(posterior[0]) == 0 and torch.all(posterior <= schedule.betas)


@pytest.mark.parametrize("kind", diffusion.SCHEDULES)
def test_closed_form_forward_process_matches_iterating_single_steps(kind):
    schedule = diffusion.noise_schedule(kind, 100)
    x0 = torch.tensor([1.5, -0.8])
    # exact moments: each step maps (mean, var) to (√α mean, α var + β)
    mean, variance = x0.double(), torch.zeros(2, dtype=torch.float64)
    for t_index in range(100):
        alpha = schedule.alphas[t_index]
        mean, variance = alpha.sqrt() * mean, alpha * variance + schedule.betas[t_index]
        alpha_bar = schedule.alpha_bars[t_index]
        assert torch.allclose(mean, alpha_bar.sqrt() * x0.double(), atol=1e-12)
        assert torch.allclose(variance, (1 - alpha_bar).expand(2), atol=1e-12)
    # and by simulation: 100k chains stepped one at a time vs 100k one-shot draws of q(x_t | x_0)
    generator, n = torch.Generator().manual_seed(0), 100_000
    x = x0.expand(n, 2).clone()
    checkpoints = {10, 40, 99}
    for t_index in range(100):
        x = diffusion.forward_step(schedule, x, t_index, torch.randn(n, 2, generator=generator))
        if t_index in checkpoints:
            alpha_bar = float(schedule.alpha_bars[t_index])
            one_shot = diffusion.q_sample(
                schedule, x0.expand(n, 2), torch.full((n,), t_index), torch.randn(n, 2, generator=generator)
            )
            for draws in (x, one_shot):
                assert torch.allclose(draws.mean(0), math.sqrt(alpha_bar) * x0, atol=0.015)
                assert torch.allclose(draws.var(0), torch.full((2,), 1 - alpha_bar), atol=0.015)


def test_at_t_equals_T_the_noised_data_is_a_standard_normal(ring):
    schedule = diffusion.noise_schedule("cosine", 100)
    data = ring[0]
    generator = torch.Generator().manual_seed(1)
    noised = diffusion.q_sample(
        schedule, data, torch.full((len(data),), 99), torch.randn(data.shape, generator=generator)
    )
    assert torch.allclose(noised.mean(0), torch.zeros(2), atol=0.05)
    assert torch.allclose(torch.cov(noised.T), torch.eye(2), atol=0.05)
    gaussian = torch.randn(2000, 2, generator=generator)
    assert abs(mmd2(noised[:2000], gaussian)) < 0.003
    assert mmd2(data[:2000], gaussian) > 0.1  # the ring itself is far from N(0, I)


def test_noise_predictor_sees_the_time_step():
    model = diffusion.NoisePredictor(steps=100)
    x = torch.zeros(3, 2)
    out = model(x, torch.tensor([0, 50, 99]))
    assert out.shape == (3, 2)
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])


def test_training_learns_the_ring(ring, trained):
    _, held_out = ring
    model, history = trained
    assert sum(history["loss"][-100:]) / 100 < 0.85 * sum(history["loss"][:20]) / 20  # observed 0.79 → 0.38
    samples = diffusion.sample(model, 2000, seed=5)
    coverage = mode_coverage(samples)
    score = mmd2(samples, held_out)
    # observed (2000 steps, seed 0): MMD² 0.0030, 8 of 8 modes, 76% of samples within 3σ of a mode
    assert score < 0.01, score
    assert coverage.covered >= 6, coverage
    assert coverage.near_share > 0.5
    untrained = diffusion.Diffusion(diffusion.NoisePredictor(), model.schedule)
    assert mmd2(diffusion.sample(untrained, 2000, seed=5), held_out) > 10 * score  # observed 0.12


def test_sampling_is_seeded(trained):
    model, _ = trained
    assert torch.equal(diffusion.sample(model, 20, seed=3), diffusion.sample(model, 20, seed=3))
    assert not torch.equal(diffusion.sample(model, 20, seed=3), diffusion.sample(model, 20, seed=4))


def test_bad_settings_are_errors(ring):
    with pytest.raises(GlossaError, match="cosine, linear"):
        diffusion.noise_schedule("quadratic")
    with pytest.raises(GlossaError, match="at least 2 steps"):
        diffusion.noise_schedule("cosine", 1)
    with pytest.raises(GlossaError, match="steps must be at least 1"):
        diffusion.train_diffusion(ring[0], steps=0)

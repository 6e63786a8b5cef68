"""The variational autoencoder (glossa.models.vae): its closed-form KL, the reparameterisation trick, and
that training on the ring improves the ELBO and the samples."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from glossa.errors import GlossaError
from glossa.models import vae
from glossa.models.toy_data import mmd2, mode_coverage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(ring):
    return vae.train_vae(ring[0], steps=2000, seed=0)


def untrained_model(seed: int = 0) -> vae.VAE:
    """The model train_vae starts from (same seed, same construction order)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return vae.VAE(2)


def held_out_elbo(model: vae.VAE, points: torch.Tensor) -> float:
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(123)
        return float(vae.elbo(model, points)[0].mean())


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    generator = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.0, 0.0], [1.0, -2.0], [0.3, 0.5]])
    log_var = torch.tensor([[0.0, 0.0], [math.log(0.25), math.log(4.0)], [-1.5, 0.7]])
    closed = vae.gaussian_kl(mu, log_var)
    assert closed[0] == 0  # q = p
    # independent oracle: torch.distributions' analytic KL between the same Gaussians
    q, p = Normal(mu, (0.5 * log_var).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))
    assert torch.allclose(closed, kl_divergence(q, p).sum(-1), atol=1e-6)
    # Monte Carlo: KL = E_{z~q}[log q(z) - log p(z)], 400k draws per row
    z = mu + (0.5 * log_var).exp() * torch.randn(400_000, *mu.shape, generator=generator)
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1)
    estimate, standard_error = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(len(z))
    assert torch.all((estimate - closed).abs() <= 4 * standard_error + 1e-6), (estimate, closed)


def test_reparameterised_samples_have_the_right_mean_and_variance():
    mu, log_var = torch.tensor([1.0, -2.0]), torch.tensor([math.log(0.25), math.log(4.0)])
    noise = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(1))
    z = vae.reparameterize(mu.expand(200_000, 2), log_var.expand(200_000, 2), noise)
    assert torch.allclose(z.mean(0), mu, atol=0.015)  # standard errors 0.0011 and 0.0045
    assert torch.allclose(z.var(0), log_var.exp(), rtol=0.015)


def test_the_reparameterisation_lets_gradients_reach_mu_and_log_var():
    mu, log_var = torch.tensor([0.5], requires_grad=True), torch.tensor([0.2], requires_grad=True)
    noise = torch.tensor([1.5])
    vae.reparameterize(mu, log_var, noise).sum().backward()
    assert float(mu.grad) == 1.0
    assert float(log_var.grad) == pytest.approx(0.5 * math.exp(0.1) * 1.5)  # d/dlv (e^{lv/2} ε)


def test_gaussian_log_likelihood_matches_torch_distributions():
    x, mean = torch.randn(5, 2), torch.randn(5, 2)
    log_sigma = torch.tensor([-1.0, 0.5])
    expected = Normal(mean, log_sigma.exp()).log_prob(x).sum(-1)
    assert torch.allclose(vae.gaussian_log_likelihood(x, mean, log_sigma), expected, atol=1e-5)


def test_training_improves_the_elbo_and_the_samples(ring, trained):
    _, held_out = ring
    model, history = trained
    before = untrained_model()
    elbo_before, elbo_after = held_out_elbo(before, held_out), held_out_elbo(model, held_out)
    # observed (2000 steps, seed 0): held-out ELBO -21.8 → -2.3 nats per point; MMD² 0.70 → 0.016
    assert elbo_after > elbo_before + 5
    assert sum(history["loss"][-100:]) / 100 < sum(history["loss"][:20]) / 20 - 5
    assert -sum(history["loss"][-100:]) / 100 == pytest.approx(elbo_after, abs=0.3)  # no overfitting
    mmd_before = mmd2(vae.sample(before, 2000, seed=5), held_out)
    mmd_after = mmd2(vae.sample(model, 2000, seed=5), held_out)
    assert mmd_after < 0.3 * mmd_before and mmd_after < 0.03
    assert mode_coverage(vae.sample(model, 2000, seed=5)).covered >= 7  # observed 8; VAEs rarely drop modes


def test_the_latent_is_used_and_separates_the_modes(ring, trained):
    model, _ = trained
    assert sum(trained[1]["kl"][-100:]) / 100 > 1.5  # observed 2.8 nats: no posterior collapse
    from glossa.models.toy_data import ring_centers

    centers = ring_centers()
    mu, log_var = vae.encode(model, centers)
    assert mu.shape == (8, 2) and log_var.shape == (8, 2)
    assert (
        float(log_var.exp().max()) < 0.5
    )  # observed 0.15: each mode's posterior is much narrower than the prior
    assert float(torch.pdist(mu).min()) > 0.3  # observed 0.96: and the eight modes get distinct latents


def test_training_is_seeded(ring):
    first = vae.train_vae(ring[0][:512], steps=5, seed=7)[0]
    again = vae.train_vae(ring[0][:512], steps=5, seed=7)[0]
    assert torch.equal(vae.sample(first, 10, seed=1), vae.sample(again, 10, seed=1))
    assert not torch.equal(vae.sample(first, 10, seed=1), vae.sample(first, 10, seed=2))


def test_zero_steps_is_an_error(ring):
    with pytest.raises(GlossaError, match="steps"):
        vae.train_vae(ring[0], steps=0)

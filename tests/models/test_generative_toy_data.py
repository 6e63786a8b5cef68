"""Toy 2-D distributions, MMD² and mode coverage (glossa.models.toy_data)."""

import math

import pytest
import torch

from glossa.errors import GlossaError
from glossa.models.toy_data import (
    RING_STD,
    TOY_DATASETS,
    ModeCoverage,
    mmd2,
    mode_coverage,
    ring_centers,
    toy_samples,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_samples_are_seeded(name):
    first, again, other = (
        toy_samples(name, 500, seed=3),
        toy_samples(name, 500, seed=3),
        toy_samples(name, 500, 4),
    )
    assert first.shape == (500, 2) and first.dtype == torch.float32
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.abs().max() < 4  # every toy set lives on about the same scale as the ring


def test_ring_points_sit_on_eight_evenly_spaced_modes():
    centers = ring_centers()
    assert torch.allclose(centers.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(centers[2], torch.tensor([0.0, 2.0]), atol=1e-6)  # 90°
    points = toy_samples("ring", 8000, seed=0)
    distance, nearest = torch.cdist(points, centers).min(dim=1)
    counts = torch.bincount(nearest, minlength=8)
    assert counts.min() > 900 and counts.max() < 1100  # modes drawn uniformly: 1000 ± 3 std
    # the distance to a 2-D Gaussian's centre is Rayleigh: mean σ·√(π/2)
    assert float(distance.mean()) == pytest.approx(RING_STD * math.sqrt(math.pi / 2), rel=0.03)


def test_unknown_toy_data_is_a_one_line_error():
    with pytest.raises(GlossaError, match="ring, moons, spiral"):
        toy_samples("swiss-roll", 10)


def test_mmd2_on_a_hand_computable_case():
    # x = {0, 1}, y = {0, 3} on a line, h = 1: k(a, b) = exp(-(a - b)² / 2)
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [3.0]])
    within_x = math.exp(-0.5)  # the one off-diagonal pair, counted twice over m(m-1) = 2
    within_y = math.exp(-4.5)
    cross = (1 + math.exp(-4.5) + math.exp(-0.5) + math.exp(-2)) / 4
    expected = within_x + within_y - 2 * cross
    assert mmd2(x, y, bandwidth=1.0) == pytest.approx(expected, abs=1e-12)
    # the biased (V-statistic) estimate would include k(x_i, x_i) = 1 and differ
    biased = (2 + 2 * math.exp(-0.5)) / 4 + (2 + 2 * math.exp(-4.5)) / 4 - 2 * cross
    assert abs(mmd2(x, y, bandwidth=1.0) - biased) > 0.1


def test_mmd2_is_symmetric_and_zero_for_identical_distributions():
    real, other = toy_samples("ring", 1500, seed=0), toy_samples("ring", 1500, seed=1)
    same = mmd2(real, other)
    assert same == pytest.approx(mmd2(other, real), abs=1e-12)
    assert abs(same) < 0.002  # observed -0.0003
    # unbiased: over many pairs of samples the estimate averages to ~0, with both signs
    values = [mmd2(toy_samples("moons", 200, 2 * i), toy_samples("moons", 200, 2 * i + 1)) for i in range(20)]
    assert abs(sum(values) / len(values)) < 0.003 and min(values) < 0 < max(values)


def test_mmd2_grows_with_the_shift_between_distributions():
    real, other = toy_samples("ring", 1000, seed=0), toy_samples("ring", 1000, seed=1)
    scores = [mmd2(real, other + torch.tensor([shift, 0.0])) for shift in (0.0, 0.1, 0.3, 1.0)]
    assert scores == sorted(scores)
    assert scores[-1] > 0.1 and scores[-1] > 50 * abs(scores[0])  # observed 0.156 vs 0.0003
    assert mmd2(real, toy_samples("moons", 1000, 0)) > 0.05  # a different shape, same scale


def test_mmd2_needs_two_points_per_sample():
    with pytest.raises(GlossaError, match="at least 2 points"):
        mmd2(torch.zeros(1, 2), torch.zeros(5, 2))


def test_mode_coverage_of_real_collapsed_and_lost_samples():
    real = mode_coverage(toy_samples("ring", 4000, seed=0))
    assert real.covered == 8 and real.near_share > 0.98 and sum(real.counts) == round(real.near_share * 4000)

    centers = ring_centers()
    collapsed = centers[[0, 0, 0, 3] * 250] + 0.05 * torch.randn(
        1000, 2, generator=torch.Generator().manual_seed(0)
    )
    result = mode_coverage(collapsed)
    assert result.covered == 2 and result.counts[0] > 700 and result.counts[1] == 0

    lost = mode_coverage(torch.zeros(100, 2))  # all mass at the centre of the ring: near no mode
    assert lost == ModeCoverage([0] * 8, 0, 0.0)


def test_a_mode_needs_two_percent_of_the_samples():
    centers = ring_centers()
    below = torch.cat([centers[[0] * 980], centers[[1] * 20]])  # 20 of 1000 is exactly 2%: counted
    assert mode_coverage(below).covered == 2
    fewer = torch.cat([centers[[0] * 981], centers[[1] * 19]])  # 19 of 1000: not counted
    assert mode_coverage(fewer).covered == 1 and mode_coverage(fewer).counts[1] == 19

"""`glossa optimize`: the optimizers on least squares, whose minimum the normal equations give exactly."""

import itertools

import pytest
import torch

from glossa.errors import GlossaError
from glossa.train.lessons.optimizers import OPTIMIZERS, excess_loss_curve, least_squares

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def problem():
    return least_squares()


def test_the_minimum_is_the_least_squares_solution(problem):
    w_best = torch.linalg.pinv(problem.x) @ problem.y  # an independent route to the same minimum
    assert problem.loss(w_best).item() == pytest.approx(problem.best_loss, rel=1e-5)
    assert problem.loss(w_best + 0.01).item() > problem.best_loss


def test_gradient_descent_converges_and_sgd_stalls_at_its_noise_floor(problem):
    gd = excess_loss_curve("gd", problem, 100, batch=16)
    sgd = excess_loss_curve("sgd", problem, 100, batch=16)
    assert sgd[0] == gd[0]
    assert gd[0] > 10
    assert all(later <= earlier + 1e-5 for earlier, later in itertools.pairwise(gd))  # full batch: never up
    assert gd[-1] < 1e-5
    assert min(sgd[50:]) > 0.01  # a mini-batch gradient keeps jittering around the minimum
    big_batch = excess_loss_curve("sgd", problem, 100, batch=256)
    assert sum(big_batch[50:]) < sum(sgd[50:])  # less gradient noise with a bigger batch


@pytest.mark.parametrize("name", ["adam", "adamw", "muon"])
def test_adaptive_optimizers_approach_the_minimum(problem, name):
    curve = excess_loss_curve(name, problem, 100, batch=16)
    assert curve[-1] < 0.01 * curve[0]


def test_bad_settings_are_glossa_errors(problem):
    with pytest.raises(GlossaError):
        excess_loss_curve("lion", problem, 10, batch=16)
    with pytest.raises(GlossaError):
        excess_loss_curve("sgd", problem, 10, batch=0)
    assert set(OPTIMIZERS) == {"gd", "sgd", "adam", "adamw", "muon"}


def test_optimize_cli_prints_and_plots(run_cli, tmp_path):
    out = tmp_path / "curves.png"
    result = run_cli("optimize", "--optim", "gd", "--optim", "adam", "--steps", "20", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "gd" in result.stdout and "adam" in result.stdout
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_optimize_cli_unknown_optimizer_is_one_line(run_cli, one_line_error):
    one_line_error(run_cli("optimize", "--optim", "lion"))

"""`glossa grad-clip`: glossa's clip_grad_norm against torch's, and the lesson's spike with and without it."""

import pytest
import torch

from glossa.errors import GlossaError
from glossa.train.lessons.clipping import clip_grad_norm, clipping_lesson

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    torch.manual_seed(0)
    ours = [torch.randn(5, 3, requires_grad=True), torch.randn(7, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    for params in (ours, theirs):
        (params[0].sum() * 3 + params[1].pow(2).sum()).backward()
    norm = clip_grad_norm(ours, max_norm)
    reference = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert norm == pytest.approx(reference.item(), rel=1e-6)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.grad, b.grad)


def test_clipping_bounds_the_spike_and_leaves_small_steps_alone():
    rows = clipping_lesson(max_norm=1.0)
    spike = next(row for row in rows if row.spike)
    assert spike.norm_before > 100 and spike.norm_after == pytest.approx(1.0, rel=1e-4)
    assert all(row.norm_after <= 1.0 + 1e-4 for row in rows)
    small = [row for row in rows if row.norm_before < 1.0]
    assert small and all(row.norm_after == pytest.approx(row.norm_before, rel=1e-5) for row in small)
    after = [row for row in rows if row.step > spike.step]
    assert max(row.loss_clipped for row in after) < 1.0  # training carried on
    assert min(row.loss_unclipped for row in after) > 100  # without clipping one batch wrecked it


def test_bad_settings_are_glossa_errors(run_cli, one_line_error):
    with pytest.raises(GlossaError):
        clipping_lesson(max_norm=0)
    one_line_error(run_cli("grad-clip", "--spike-step", "99"))

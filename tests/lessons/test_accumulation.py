"""`glossa grad-accum`: one batch, accumulated micro-batches and all-reduced ranks give the same gradient."""

import pytest

from glossa.errors import GlossaError
from glossa.train.lessons.accumulation import accumulation_lesson, batch_gradient, random_batch, tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_accumulated_gradient_equals_the_big_batch_gradient():
    ways = accumulation_lesson(micro=4, accum=4, ranks=0)
    assert [way.name for way in ways] == ["one batch", "accumulation"]
    assert ways[1].max_abs_difference < 1e-6
    assert ways[1].norm == pytest.approx(ways[0].norm, rel=1e-5)


def test_one_micro_batch_is_not_the_batch():
    # the check can fail: the gradient of a quarter of the batch is a different gradient
    model = tiny_model()
    x, y = random_batch(16)
    whole = batch_gradient(model, x, y)
    quarter = batch_gradient(model, x[:4], y[:4])
    assert max((a - b).abs().max().item() for a, b in zip(whole, quarter, strict=True)) > 1e-4


def test_two_gloo_ranks_all_reduce_to_the_batch_gradient():
    ways = accumulation_lesson(micro=4, accum=2, ranks=2)
    assert ways[-1].name == "data parallel" and ways[-1].layout == "2 ranks × 4"
    assert ways[-1].max_abs_difference < 1e-6


def test_bad_settings_are_glossa_errors(run_cli, one_line_error):
    with pytest.raises(GlossaError):
        accumulation_lesson(micro=0)
    one_line_error(run_cli("grad-accum", "--micro", "3", "--accum", "1", "--ranks", "2"))

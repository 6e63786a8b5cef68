"""`glossa fit-demo`: a tiny model on 600 bytes underfits, peaks, overfits and is stopped early; it was
killed once and resumed from its checkpoint; the test split is scored once, at the end."""

import pytest

from glossa.errors import GlossaError
from glossa.train.lessons.fitting import TRAIN_BYTES, fit_lesson, text_slices

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit") / "run"
    return fit_lesson(folder)


def test_the_splits_are_disjoint_consecutive_slices():
    slices = text_slices()
    assert len(slices["train"]) == TRAIN_BYTES
    assert len(slices["val"]) == len(slices["test"]) == 1500
    assert slices["train"][-20:] != slices["val"][:20]


def test_the_story_underfit_best_overfit_stop(run):
    verdicts = [row.verdict for row in run.evaluations]
    best = verdicts.index("best: keep this checkpoint")
    assert best >= 1 and all(v == "underfitting" for v in verdicts[:best])
    assert all(v.startswith("overfitting") for v in verdicts[best + 1 :]) and verdicts[-1].endswith(
        "early stop"
    )
    assert run.stopped_early and run.best_step == run.evaluations[best].step
    losses = [row.val_loss for row in run.evaluations]
    assert min(losses) == losses[best]
    last, at_best = run.evaluations[-1], run.evaluations[best]
    assert last.train_loss < at_best.train_loss and last.val_loss > at_best.val_loss  # the overfitting gap
    assert len(run.evaluations) - 1 - best == 4  # patience: 4 evaluations without a new best


def test_epochs_checkpoints_resume_and_test_score(run):
    assert run.evaluations[0].epoch == pytest.approx(5 * 8 * 32 / TRAIN_BYTES)
    assert run.resumed_from == run.interrupted_at == 10
    assert f"step_{run.best_step:06d}" in run.checkpoints and f"step_{run.steps:06d}" in run.checkpoints
    assert run.test["tokens"] > 0 and run.test["loss"] > 0
    assert (run.out_dir / "loss.png").is_file() and (run.out_dir / "model").is_dir()


def test_an_existing_run_folder_is_refused(run):
    with pytest.raises(GlossaError, match="already holds a run"):
        fit_lesson(run.out_dir)

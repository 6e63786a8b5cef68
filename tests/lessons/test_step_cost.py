"""`glossa train-step`: TensorMemory counts bytes right; checkpointing trades memory for recomputation only,
bf16 autocast halves stored activations and moves the loss a little."""

import pytest
import torch

from glossa.train.lessons.memory import TensorMemory
from glossa.train.lessons.step_cost import step_cost_lesson

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_tensor_memory_counts_allocations_and_frees():
    before = torch.ones(1000)  # made outside the block: not counted
    memory = TensorMemory()
    with memory:
        a = torch.zeros(1000, 250)  # 1 MB of float32
        view = a[:10]  # a view: no new storage
        b = (before * 2).to(torch.bfloat16)
        held = memory.current
        del a, view
    assert held == 1_000_000 + 2 * 1000  # a and b; the float32 temporary `before * 2` is already freed
    assert memory.peak == held + 4 * 1000  # ... but it was alive while b was made from it
    assert memory.current == 2 * 1000  # only b is left
    del b


@pytest.fixture(scope="module")
def costs():
    return {(row.precision, row.checkpointing): row for row in step_cost_lesson()}


def test_checkpointing_cuts_activation_memory_and_changes_nothing_else(costs):
    for precision in ("fp32", "bf16"):
        plain, checkpointed = costs[precision, False], costs[precision, True]
        assert checkpointed.activation_bytes < 0.4 * plain.activation_bytes
        assert checkpointed.peak_bytes < plain.peak_bytes
        assert checkpointed.loss == plain.loss and checkpointed.grad_difference == plain.grad_difference


def test_bf16_autocast_stores_less_and_stays_close(costs):
    fp32, bf16 = costs["fp32", False], costs["bf16", False]
    assert bf16.activation_bytes < 0.8 * fp32.activation_bytes
    assert 0 < bf16.loss_difference < 1e-2
    assert 0 < bf16.grad_difference < 0.05


def test_train_step_cli_checks_its_options(run_cli, one_line_error):
    one_line_error(run_cli("train-step", "--seq-len", "1"))

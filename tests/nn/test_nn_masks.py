"""The one mask builder on small cases checked by hand: every kind, combinations, cache offsets, errors."""

import pytest
import torch

from glossa.errors import GlossaError
from glossa.nn.masks import attention_mask


def grid(rows: list[str]) -> torch.Tensor:
    return torch.tensor([[cell == "1" for cell in row] for row in rows])


def test_bidirectional_sees_everything():
    assert attention_mask(3).all()
    assert attention_mask(2, 5).shape == (2, 5)


def test_causal():
    assert torch.equal(attention_mask(3, causal=True), grid(["100", "110", "111"]))


def test_causal_sliding_window():
    expected = grid(["1000", "1100", "0110", "0011"])
    assert torch.equal(attention_mask(4, causal=True, window=2), expected)


def test_bidirectional_sliding_window_is_symmetric():
    expected = grid(["1100", "1110", "0111", "0011"])
    assert torch.equal(attention_mask(4, window=2), expected)


def test_block_sparse_fixed_pattern():
    # blocks of 2: own block, plus the last key of every block (positions 1 and 3)
    expected = grid(["1101", "1101", "0111", "0111"])
    assert torch.equal(attention_mask(4, block_size=2), expected)
    causal = grid(["1000", "1100", "0110", "0111"])
    assert torch.equal(attention_mask(4, causal=True, block_size=2), causal)


def test_padding_hides_keys_per_sequence():
    padding = torch.tensor([[1, 1, 0], [1, 1, 1]])
    mask = attention_mask(3, padding=padding)
    assert mask.shape == (2, 1, 3, 3)
    assert torch.equal(mask[0, 0], grid(["110", "110", "110"]))
    assert mask[1].all()


def test_causal_and_left_padding_combine():
    padding = torch.tensor([[0, 1, 1]])
    assert torch.equal(attention_mask(3, causal=True, padding=padding)[0, 0], grid(["000", "010", "011"]))


def test_queries_are_the_last_positions_by_default_for_a_kv_cache():
    # one new query at position 4 over 5 keys: it sees all of them (causal), or the last 2 (window)
    assert attention_mask(1, 5, causal=True).all()
    assert torch.equal(attention_mask(1, 5, causal=True, window=2), grid(["00011"]))
    assert torch.equal(attention_mask(2, 3, causal=True, q_offset=0), grid(["100", "110"]))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 0},
        {"block_size": 0},
        {"padding": torch.ones(2, 4)},
    ],
)
def test_bad_arguments_are_glossa_errors(kwargs):
    with pytest.raises(GlossaError):
        attention_mask(3, **kwargs)

"""Entropy and its rates, checked against distributions whose entropy is known in closed form."""

import math

import pytest

from glossa.evals.information import entropy_bits, unigram_entropy_rates


def test_entropy_of_known_distributions():
    assert entropy_bits([5, 5, 5, 5]) == pytest.approx(2.0)
    assert entropy_bits([7]) == 0.0
    assert entropy_bits([]) == 0.0
    assert entropy_bits([1, 3]) == pytest.approx(-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75)))
    assert entropy_bits([2, 0, 2]) == pytest.approx(1.0)


def test_bits_per_byte_spreads_the_character_cost_over_utf8_bytes():
    ascii_rates = unigram_entropy_rates("abab")
    assert ascii_rates.bits_per_character == pytest.approx(1.0)
    assert ascii_rates.bits_per_byte == pytest.approx(1.0)
    two_byte = unigram_entropy_rates("éaéa")  # é is 2 bytes: 4 chars, 6 bytes, 4 bits in all
    assert two_byte.bits_per_character == pytest.approx(1.0)
    assert two_byte.bits_per_byte == pytest.approx(4 / 6)
    assert two_byte.utf8_bytes == 6 and two_byte.distinct_characters == 2
    # bytes c3 a9 61 c3 a9 61: c3 and a9 and 61 each a third of the bytes
    assert two_byte.byte_entropy_bits == pytest.approx(math.log2(3))

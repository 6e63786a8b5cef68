"""Zipf's law fit: exact on synthetic power laws, near 1 on real English text."""

import pytest

from glossa.evals.zipf import word_frequencies, zipf_fit


@pytest.mark.parametrize("exponent", [0.8, 1.0, 1.3])
def test_fit_recovers_the_exponent_of_an_exact_power_law(exponent):
    frequencies = [1e6 * rank**-exponent for rank in range(1, 501)]
    fit = zipf_fit(frequencies)
    assert fit.exponent == pytest.approx(exponent, abs=1e-9)
    assert fit.r_squared == pytest.approx(1.0)


def test_word_frequencies_lowercase_and_keep_inner_apostrophes():
    words = dict(word_frequencies("The cat, the CAT and the hat. O'er the hat!"))
    assert words == {"the": 4, "cat": 2, "hat": 2, "and": 1, "o'er": 1}


def test_a_fit_needs_two_words():
    with pytest.raises(ValueError):
        zipf_fit([3])

"""The split is stable (same document, same split, whatever the order or company) and near its fractions."""

import random

import pytest

from glossa.data.split import SPLITS, SplitConfig, split_of
from glossa.errors import GlossaError


def documents(count: int) -> list[str]:
    return [f"document number {index} with some words {index * 7919 % 1000}" for index in range(count)]


def test_same_document_same_split_across_runs_and_orders():
    config = SplitConfig(train=0.8, validation=0.1, test=0.1)
    texts = documents(2000)
    first = {text: split_of(text, config) for text in texts}
    shuffled = list(texts)
    random.Random(3).shuffle(shuffled)
    assert {text: split_of(text, config) for text in shuffled[:500]} == {
        text: first[text] for text in shuffled[:500]
    }
    assert split_of("document  number 5 with some words 595", config) == first[texts[5]]  # normalised


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.98, 0.01, 0.01), (0.5, 0.25, 0.25)])
def test_fractions_are_near_the_configured_ones(fractions):
    config = SplitConfig(*fractions)
    count = 20_000
    observed = [split_of(text, config) for text in documents(count)]
    for split, fraction in zip(SPLITS, fractions, strict=True):
        share = observed.count(split) / count
        assert abs(share - fraction) < 5 * (fraction * (1 - fraction) / count) ** 0.5 + 1e-9


def test_bad_fractions_are_refused():
    with pytest.raises(GlossaError):
        SplitConfig(0.9, 0.2, 0.1)

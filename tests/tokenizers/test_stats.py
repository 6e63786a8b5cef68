"""Tokenizer statistics: compression, fertility, vocabulary use, unknown rate, and comparisons."""

from __future__ import annotations

import pytest

from glossa.tokenizers.loading import load_tokenizer
from glossa.tokenizers.stats import compare_tokenizers, tokenizer_stats


@pytest.fixture(scope="module")
def smollm2():
    return load_tokenizer("smollm2")


@pytest.fixture(scope="module")
def minilm():
    return load_tokenizer("minilm")


def test_counts_and_ratios(smollm2):
    stats = tokenizer_stats(smollm2, "Hello world 123")  # Hello | ␣world | ␣ | 1 | 2 | 3
    assert (stats.tokens, stats.bytes, stats.characters, stats.words) == (6, 15, 15, 3)
    assert stats.bytes_per_token == stats.characters_per_token == 2.5
    assert stats.fertility == 2.0
    assert stats.distinct_ids == 6 and stats.vocabulary_use == 6 / 49152
    assert stats.unknown == 0 and stats.unknown_rate == 0.0


def test_bytes_and_characters_differ_outside_ascii(smollm2):
    stats = tokenizer_stats(smollm2, "東京")
    assert (stats.bytes, stats.characters) == (6, 2)
    assert stats.bytes_per_token == 6 / stats.tokens


def test_several_texts_pool(smollm2):
    texts = ["the cat", "the dog", ""]
    pooled = tokenizer_stats(smollm2, texts)
    parts = [tokenizer_stats(smollm2, text) for text in texts]
    assert pooled == parts[0] + parts[1] + parts[2]
    assert pooled.tokens == 4 and pooled.distinct_ids == 3  # "the", " cat", "the", " dog"


def test_unknown_rate_of_wordpiece(minilm):
    text = "hello 🫠 world 🫠"
    stats = tokenizer_stats(minilm, text)
    ids = minilm.encode(text)
    assert stats.unknown == ids.count(minilm.unk_id) == 2
    assert stats.unknown_rate == 2 / len(ids)


def test_empty_text(smollm2):
    stats = tokenizer_stats(smollm2, "")
    assert stats.tokens == 0 and stats.bytes_per_token == stats.fertility == stats.unknown_rate == 0.0


def test_compare(smollm2, minilm):
    text = "Tokenizers differ: 東京 has 2 characters."
    comparison = compare_tokenizers(smollm2, minilm, text)
    assert comparison.a == tokenizer_stats(smollm2, text)
    assert comparison.b == tokenizer_stats(minilm, text)
    assert comparison.token_ratio == comparison.b.tokens / comparison.a.tokens

"""Deduplication finds planted exact and near duplicates, labelled by the true Jaccard of shingle sets."""

import random

import numpy as np
import pytest

from glossa.data.dedup import (
    ExactDeduplicator,
    MinHasher,
    NearDeduplicator,
    SortedKeys,
    estimated_jaccard,
    jaccard,
    word_hashes,
)

SHINGLE = 5
THRESHOLD = 0.8


def shingles(text: str) -> set[tuple[str, ...]]:
    words = text.casefold().split()
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def planted_corpus(seed: int = 0, originals: int = 150):
    generator = random.Random(seed)
    vocabulary = [f"w{index}" for index in range(5000)]

    def edit(words: list[str], edits: int) -> list[str]:
        copy = list(words)
        for position in generator.sample(range(len(copy)), edits):
            copy[position] = generator.choice(vocabulary)
        return copy

    documents: list[tuple[str, int | None]] = []  # (text, index of the original it was edited from)
    for _ in range(originals):
        documents.append((" ".join(generator.choices(vocabulary, k=300)), None))
    variants = []
    for index in range(originals):
        words = documents[index][0].split()
        kind = index % 3
        edits = generator.randint(1, 4) if kind < 2 else generator.randint(30, 60)
        variants.append((" ".join(edit(words, edits)), index))
    generator.shuffle(variants)
    return documents + variants


def test_near_dedup_precision_and_recall_at_jaccard_0_8():
    corpus = planted_corpus()
    shingle_sets = [shingles(text) for text, _ in corpus]
    truth = [
        origin is not None and jaccard(shingle_sets[position], shingle_sets[origin]) >= THRESHOLD
        for position, (_, origin) in enumerate(corpus)
    ]
    assert 80 <= sum(truth) <= 120  # both classes are really present
    index = NearDeduplicator(num_perm=128, bands=32, threshold=THRESHOLD, shingle_size=SHINGLE)
    predicted = [index.check(text)[0] for text, _ in corpus]
    true_positive = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision = true_positive / max(sum(predicted), 1)
    recall = true_positive / sum(truth)
    print(f"near dedup: precision {precision:.3f} recall {recall:.3f} over {sum(truth)} planted duplicates")
    assert precision >= 0.95 and recall >= 0.95


def test_minhash_estimates_jaccard_within_noise():
    generator = random.Random(1)
    words = [f"w{generator.randrange(5000)}" for _ in range(400)]
    hasher = MinHasher(num_perm=256, shingle_size=SHINGLE)
    for edits in (2, 10, 40, 100):
        other = list(words)
        for position in generator.sample(range(len(other)), edits):
            other[position] = "x" + other[position]
        true = jaccard(shingles(" ".join(words)), shingles(" ".join(other)))
        estimate = estimated_jaccard(hasher.signature(" ".join(words)), hasher.signature(" ".join(other)))
        assert abs(estimate - true) < 4 * np.sqrt(true * (1 - true) / 256) + 0.02


def test_exact_dedup_ignores_whitespace_and_case_but_not_words():
    exact = ExactDeduplicator()
    assert not exact.is_duplicate("To be, or not to be")
    assert exact.is_duplicate("to  be, or\nnot to BE")
    assert not exact.is_duplicate("To be, or not to be?")


def test_word_hashes_depend_on_the_word_only():
    text = "alpha beta " * 40_000 + "alpha"  # crosses the 64 KiB power-table blocks
    hashes = word_hashes(text)
    assert len(hashes) == 80_001
    assert len(set(hashes[0::2].tolist())) == 1 and len(set(hashes[1::2].tolist())) == 1
    assert hashes[0] != hashes[1]


@pytest.mark.parametrize("merge_every", [1, 3, 1000])
def test_sorted_keys_behaves_like_a_dict(merge_every):
    keys, reference = SortedKeys(merge_every=merge_every), {}
    generator = random.Random(merge_every)
    for _ in range(500):
        key, value = generator.randrange(2**64), generator.randrange(100)
        keys.put(key, value)
        reference.setdefault(key, value)
    assert all(keys.get(key) == value for key, value in reference.items())
    assert keys.get(12345) is None and len(keys) == len(reference)

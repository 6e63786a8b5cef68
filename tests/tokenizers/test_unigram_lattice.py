"""The Unigram lattice against brute force: Viterbi, n-best, the partition function, sampling, and the
vectorised forward-backward the trainer uses."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from glossa.tokenizers.unigram import SPACE, Unigram, byte_token
from glossa.tokenizers.unigram_train import Lattices

ALPHABET = "ab▁"
SPECIALS = [("<unk>", 0.0, "special"), ("<s>", 0.0, "special"), ("</s>", 0.0, "special")]
BYTES = [(byte_token(value), 0.0, "byte") for value in range(256)]


def random_tokenizer(
    rng: random.Random, *, byte_fallback: bool = True, all_characters: bool = False
) -> Unigram:
    """Some single characters (all three with `all_characters`) and 3–11 random longer pieces."""
    pieces = set(ALPHABET if all_characters else rng.sample(ALPHABET, rng.randint(1, 3)))
    wanted = len(pieces) + rng.randint(3, 11)
    while len(pieces) < wanted:
        pieces.add("".join(rng.choice(ALPHABET) for _ in range(rng.randint(2, 4))))
    normal = [(piece, -rng.uniform(0.5, 8.0), "normal") for piece in sorted(pieces)]
    return Unigram(SPECIALS + (BYTES if byte_fallback else []) + normal, add_dummy_prefix=False)


def segmentations(
    string: str, pieces: dict[str, int], fallback: set[int]
) -> Iterator[list[tuple[int, int, int]]]:
    """Every way to cut `string` into (start, end, id) pieces; -1 for a single character nothing covers."""
    if not string:
        yield []
        return
    for end in range(1, len(string) + 1):
        piece_id = pieces.get(string[:end])
        if piece_id is None and end == 1 and 0 in fallback:
            piece_id = -1
        if piece_id is not None:
            for rest in segmentations(string[end:], pieces, {f - end for f in fallback if f >= end}):
                yield [(0, end, piece_id)] + [(s + end, e + end, i) for s, e, i in rest]


def brute_force(tokenizer: Unigram, text: str) -> list[tuple[float, list[tuple[int, int, int]]]]:
    string = text.replace(" ", SPACE)
    pieces = {piece: i for i, (piece, _, kind) in enumerate(tokenizer.vocab) if kind == "normal"}
    uncovered = {i for i, char in enumerate(string) if char not in pieces}
    scored = []
    for path in segmentations(string, pieces, uncovered):
        score = sum(tokenizer.fallback_score if i == -1 else tokenizer.score(i) for _, _, i in path)
        scored.append((score, path))
    return sorted(scored, key=lambda entry: -entry[0])


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice("ab ") for _ in range(rng.randint(1, 9)))


def test_viterbi_equals_the_best_of_all_segmentations():
    rng = random.Random(1)
    for _ in range(300):
        tokenizer = random_tokenizer(rng)
        text = random_text(rng)
        lattice = tokenizer.lattice(text, dummy_prefix=False)
        path, score = lattice.viterbi()
        expected = brute_force(tokenizer, text)
        assert score == pytest.approx(expected[0][0])
        if len(expected) == 1 or expected[0][0] - expected[1][0] > 1e-9:  # same pieces, other order: a tie
            assert [(e.start, e.end, e.piece_id) for e in path] == expected[0][1]


def test_nbest_and_partition_function_equal_brute_force():
    rng = random.Random(2)
    for _ in range(150):
        tokenizer = random_tokenizer(rng)
        text = random_text(rng)
        lattice = tokenizer.lattice(text, dummy_prefix=False)
        expected = brute_force(tokenizer, text)
        nbest = lattice.nbest(5)
        assert [score for _, score in nbest] == pytest.approx([score for score, _ in expected[:5]])
        log_z = math.log(sum(math.exp(score) for score, _ in expected))
        assert lattice.log_partition() == pytest.approx(log_z)


def test_sampling_draws_each_segmentation_with_its_probability():
    rng = random.Random(3)
    tokenizer = Unigram(
        SPECIALS
        + BYTES
        + [("a", -1.0, "normal"), ("b", -1.5, "normal"), ("ab", -2.0, "normal"), ("aba", -3.5, "normal")],
        add_dummy_prefix=False,
    )
    lattice = tokenizer.lattice("abab", dummy_prefix=False)
    theta = 0.5
    expected = {
        tuple(i for _, _, i in path): math.exp(theta * score)
        for score, path in brute_force(tokenizer, "abab")
    }
    total = sum(expected.values())
    draws = Counter(tuple(edge.piece_id for edge in lattice.sample(theta, rng)) for _ in range(6000))
    for path, weight in expected.items():
        assert draws[path] / 6000 == pytest.approx(weight / total, abs=0.025)


def test_byte_fallback_and_unknown_without_it():
    tokenizer = Unigram(SPECIALS + BYTES + [(SPACE, -1.0, "normal"), ("a", -1.0, "normal")])
    ids = tokenizer.encode("aé")
    assert [tokenizer.id_to_token(i) for i in ids] == [SPACE, "a", "<0xC3>", "<0xA9>"]
    no_bytes = Unigram([*SPECIALS, (SPACE, -1.0, "normal"), ("a", -1.0, "normal")])
    assert no_bytes.encode("aé") == [no_bytes.token_to_id(SPACE), no_bytes.token_to_id("a"), no_bytes.unk_id]
    assert no_bytes.decode(no_bytes.encode("aé")) == "a ⁇ "


def test_vectorised_forward_backward_equals_the_plain_lattice():
    rng = random.Random(4)
    tokenizer = random_tokenizer(rng, byte_fallback=False, all_characters=True)
    strings = sorted({random_text(rng).replace(" ", SPACE) for _ in range(40)})
    weights = np.array([rng.randint(1, 5) for _ in strings], dtype=np.float64)
    index = {piece: i for i, (piece, _, kind) in enumerate(tokenizer.vocab) if kind == "normal"}
    columns = [
        (s, start, end, index[string[start:end]])
        for s, string in enumerate(strings)
        for start in range(len(string))
        for end in range(start + 1, len(string) + 1)
        if string[start:end] in index
    ]
    string_col, start_col, end_col, piece_col = (np.array(column) for column in zip(*columns, strict=True))
    lengths = np.array([len(string) for string in strings])
    lattices = Lattices(lengths, weights, string_col, start_col, end_col, piece_col)
    log_prob = np.array([score for _, score, _ in tokenizer.vocab])
    log_z, expected = lattices.forward_backward(log_prob)

    expected_by_hand = np.zeros(len(tokenizer.vocab))
    for s, string in enumerate(strings):
        paths = brute_force(tokenizer, string.replace(SPACE, " "))
        total = sum(math.exp(score) for score, _ in paths)
        assert log_z[s] == pytest.approx(math.log(total))
        for score, path in paths:
            for _, _, piece_id in path:
                expected_by_hand[piece_id] += weights[s] * math.exp(score) / total
        assert log_z[s] == pytest.approx(tokenizer.lattice(string.replace(SPACE, " "), False).log_partition())
    assert expected == pytest.approx(expected_by_hand)

    path_string, path_piece = lattices.viterbi(log_prob)
    for s, string in enumerate(strings):
        best = brute_force(tokenizer, string.replace(SPACE, " "))[0][1]
        assert sorted(path_piece[path_string == s]) == sorted(i for _, _, i in best)

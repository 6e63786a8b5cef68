"""WordPiece training: the score rule on a hand-computed example, determinism, coverage of every character."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from glossa.tokenizers.bert_normalize import BertNormalizer
from glossa.tokenizers.wordpiece_train import learn_wordpiece_vocabulary, train_wordpiece

TINY_SHAKESPEARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare.txt"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_first_merges_follow_the_score_on_a_hand_computed_example():
    # hug×10 pug×5 pun×12 bun×4 hugs×5 → h ##u ##g, p ##u ##g, p ##u ##n, b ##u ##n, h ##u ##g ##s
    # count: h 15, p 17, b 4, ##u 36, ##g 20, ##n 16, ##s 5
    # scores: (##g,##s) 5/(20·5) = 1/20; every other pair = 1/36      → ##gs first
    # then ##g 15, ##gs 5: (p,##u) 17/(17·36), (h,##u) 15/(15·36), (##u,##n) 16/(36·16), (##u,##g) 15/(36·15),
    #      (##u,##gs) 5/(36·5), (b,##u) 4/(4·36): all 1/36, so the tie goes to the highest count: p ##u → pu
    counts = {"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}
    vocabulary = learn_wordpiece_vocabulary(counts, vocab_size=len(SPECIALS) + 7 + 2)
    assert vocabulary[: len(SPECIALS)] == SPECIALS
    assert vocabulary[len(SPECIALS) : len(SPECIALS) + 7] == ["b", "h", "p", "##g", "##n", "##s", "##u"]
    assert vocabulary[-2:] == ["##gs", "pu"]


def test_the_score_is_not_the_frequency():
    # BPE would merge the frequent pair (t, ##h); WordPiece prefers the rare, always-together pair (q, ##u)
    counts = {"th": 50, "te": 40, "ta": 40, "qu": 2, "ah": 30}
    vocabulary = learn_wordpiece_vocabulary(counts, vocab_size=len(SPECIALS) + 7 + 1)
    assert vocabulary[-1] == "qu"


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return TINY_SHAKESPEARE.read_text(encoding="utf-8")[:200_000].split("\n")


@pytest.fixture(scope="module")
def trained(corpus):
    return train_wordpiece(corpus, vocab_size=800)


def test_training_is_deterministic_and_ignores_line_order(corpus, trained):
    shuffled = corpus[:]
    random.Random(0).shuffle(shuffled)
    assert train_wordpiece(shuffled, vocab_size=800).vocab == trained.vocab


def test_vocabulary_has_every_character_and_the_exact_size(corpus, trained):
    assert trained.vocab_size == 800
    normalizer = BertNormalizer()
    for word in {word for line in corpus for word in normalizer.split_words(line)}:
        assert word[0] in trained.vocab
        assert all("##" + char in trained.vocab for char in word[1:])
    assert trained.unk_id not in trained.encode("\n".join(corpus))


def test_trained_tokenizer_round_trips_normalised_text(trained):
    text = "First Citizen: Before we proceed any further, hear me speak."
    assert (
        trained.decode(trained.encode(text))
        == "first citizen : before we proceed any further, hear me speak."
    )


def test_progress_bar_option_runs(corpus):
    assert train_wordpiece(corpus[:200], vocab_size=120, progress=True).vocab_size == 120

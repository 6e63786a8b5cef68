"""Files: glossa's JSON and `.vocab` listing, and HF tokenizer.json both ways, checked with HF itself."""

from __future__ import annotations

import json
import os

import pytest

from glossa.errors import GlossaError
from glossa.tokenizers.bpe import ByteLevelBPE
from glossa.tokenizers.bpe_files import (
    load_bpe,
    load_hf_tokenizer_json,
    render_bytes,
    save_bpe,
    save_hf_tokenizer_json,
    unescape_bytes,
    vocab_file_path,
)
from glossa.tokenizers.bpe_train import train_bpe
from glossa.tokenizers.pretokenize import PRETOKENIZER_NAMES

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEXTS = [
    "To be, or not to be, that is the question:\n",
    "In 1599, 42 players; 3.14 — 数字 ١٢٣ émoji 👍🏽 👨‍👩‍👧 e\u0301 \t\t  \n\n",
    "<|im_start|>user\nhello<|im_end|>\n<|endoftext|><|im_end",
    "def f(x):\n    return x  # ok\n",
]


@pytest.fixture(scope="module")
def trained(tinyshakespeare_path):
    text = tinyshakespeare_path.read_text(encoding="utf-8")[:200_000]
    return train_bpe([text, *TEXTS], 800, special_tokens=SPECIALS, progress=False)


@pytest.fixture(scope="module", params=PRETOKENIZER_NAMES)
def bpe(request, trained):
    return ByteLevelBPE(
        trained.vocab,
        trained.merges,
        pretokenizer=request.param,
        special_tokens=trained.special_tokens,
        bos_id=1,
        eos_id=2,
        add_bos=request.param == "llama3",
        chat_template="{% for m in messages %}{{ m.content }}{% endfor %}",
        name=f"test-{request.param}",
    )


def test_save_then_load_gives_identical_ids(bpe, tmp_path):
    path = save_bpe(bpe, tmp_path / "tok.json")
    loaded = load_bpe(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("glossa-bpe", 1)
    for text in TEXTS:
        for allowed in ("none", "all"):
            assert loaded.encode(text, allowed_special=allowed, add_special_tokens=True) == bpe.encode(
                text, allowed_special=allowed, add_special_tokens=True
            )
    assert (loaded.vocab, loaded.merges, loaded.pretokenizer) == (bpe.vocab, bpe.merges, bpe.pretokenizer)
    assert (loaded.special_tokens, loaded.bos_id, loaded.eos_id, loaded.add_bos) == (
        bpe.special_tokens,
        bpe.bos_id,
        bpe.eos_id,
        bpe.add_bos,
    )
    assert (loaded.chat_template, loaded.name) == (bpe.chat_template, bpe.name)


def test_vocab_listing_is_written_and_reads_back(bpe, tmp_path):
    save_bpe(bpe, tmp_path / "tok.json")
    lines = vocab_file_path(tmp_path / "tok.json").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# glossa-bpe vocabulary")
    assert len(lines) == 1 + bpe.vocab_size
    merged = 0
    for token_id, line in enumerate(lines[1:]):
        fields = line.split("\t")
        assert int(fields[0]) == token_id
        if bpe.is_special(token_id):
            assert fields[1:] == [render_bytes(bpe.id_to_token(token_id).encode()), "special"]
            continue
        assert unescape_bytes(fields[1]) == bpe.token_bytes(token_id)
        if len(fields) == 3:
            left, right = fields[2].removeprefix("= ").split(" + ")
            assert unescape_bytes(left) + unescape_bytes(right) == bpe.token_bytes(token_id)
            merged += 1
    assert merged == len(bpe.merges)
    assert lines[1 + bpe.token_to_id("Ġ")] == f'{bpe.token_to_id("Ġ")}\t" "'
    assert lines[1 + bpe.token_to_id("Ċ")] == f'{bpe.token_to_id("Ċ")}\t"\\n"'


def test_render_bytes_escapes_what_is_not_printable():
    assert render_bytes(b"the") == '"the"'
    assert render_bytes('é"\\\n\t\x00'.encode()) == '"é\\"\\\\\\n\\t\\x00"'
    assert render_bytes(b"\xe4\xb8") == '"\\xe4\\xb8"'
    assert render_bytes("\u00a0\u200b".encode()) == '"\\u00a0\\u200b"'
    for data in [b"\xe4\xb8", 'é"\\\n\u00a0\U000e0001'.encode(), b"\x00\x7f\xff", b""]:
        assert unescape_bytes(render_bytes(data)) == data


def test_exported_tokenizer_json_loads_in_hf_with_identical_ids(bpe, tmp_path, tinyshakespeare_path):
    from tokenizers import Tokenizer

    path = save_hf_tokenizer_json(bpe, tmp_path / "tokenizer.json")
    hf = Tokenizer.from_file(str(path))
    shakespeare = tinyshakespeare_path.read_text(encoding="utf-8")[200_000:260_000]
    for text in [*TEXTS, shakespeare]:
        # HF always matches added tokens, which is our allowed_special="all"
        ids = bpe.encode(text, allowed_special="all", add_special_tokens=True)
        assert hf.encode(text, add_special_tokens=True).ids == ids
        assert hf.encode(text, add_special_tokens=False).ids == bpe.encode(text, allowed_special="all")
        assert hf.decode(ids, skip_special_tokens=False) == bpe.decode(ids)
    assert hf.get_vocab_size() == bpe.vocab_size


def test_tokenizer_json_imports_back(bpe, tmp_path):
    path = save_hf_tokenizer_json(bpe, tmp_path / "tokenizer.json")
    loaded = load_hf_tokenizer_json(path)
    assert (loaded.vocab, loaded.merges, loaded.pretokenizer) == (bpe.vocab, bpe.merges, bpe.pretokenizer)
    assert (loaded.special_tokens, loaded.add_bos) == (bpe.special_tokens, bpe.add_bos)
    for text in TEXTS:
        assert loaded.encode(text, add_special_tokens=True) == bpe.encode(text, add_special_tokens=True)


def test_hf_file_with_string_merges_and_tokens_after_the_model_vocab(trained, tmp_path):
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

    ordinary = [token for token in trained.vocab if token not in trained.special_tokens]
    merges = [(left, right) for left, right in trained.merges]
    hf = Tokenizer(models.BPE(vocab={token: i for i, token in enumerate(ordinary)}, merges=merges))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.add_special_tokens([AddedToken("<|end|>", normalized=False)])
    document = json.loads(hf.to_str())
    document["model"]["merges"] = [f"{left} {right}" for left, right in merges]
    (tmp_path / "tokenizer.json").write_text(json.dumps(document), encoding="utf-8")
    loaded = load_hf_tokenizer_json(tmp_path / "tokenizer.json")
    assert loaded.special_tokens == {"<|end|>": len(ordinary)}
    for text in [*TEXTS, "x<|end|>y"]:
        assert loaded.encode(text, allowed_special="all") == hf.encode(text).ids


def write_json(path, document):
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: {**d, "format": "minbpe"}, "has format 'minbpe', not 'glossa-bpe'"),
        (lambda d: {**d, "version": 2}, "is version 2 of glossa-bpe; this glossa reads version 1"),
        (lambda d: {k: v for k, v in d.items() if k != "vocab"}, "has no 'vocab' field"),
        (lambda d: {k: v for k, v in d.items() if k != "merges"}, "has no 'merges' field"),
        (lambda d: {k: v for k, v in d.items() if k != "pretokenizer"}, "has no 'pretokenizer' field"),
        (lambda d: {**d, "pretokenizer": "bert"}, "'pretokenizer' must be one of"),
        (lambda d: {**d, "merges": [["a", "b", "c"]]}, "'merges' must be a list of"),
        (lambda d: {**d, "vocab": "abc"}, "'vocab' must be a list of strings"),
        (lambda d: {**d, "bos_id": "1"}, "'bos_id' must be an id or null"),
        (lambda d: {**d, "merges": [["zz", "qq"]]}, "which is not in the vocabulary"),
        (lambda d: [d], "expected a JSON object"),
    ],
)
def test_corrupt_glossa_file_is_a_one_line_error(trained, tmp_path, change, message):
    save_bpe(trained, tmp_path / "good.json")
    good = json.loads((tmp_path / "good.json").read_text(encoding="utf-8"))
    path = write_json(tmp_path / "bad.json", change(good))
    with pytest.raises(GlossaError, match=message) as error:
        load_bpe(path)
    assert "\n" not in str(error.value)


def test_unreadable_files_are_one_line_errors(tmp_path):
    (tmp_path / "broken.json").write_text('{"format": "glossa-bpe", "vers', encoding="utf-8")
    for call, message in [
        (lambda: load_bpe(tmp_path / "broken.json"), "is not valid JSON"),
        (lambda: load_bpe(tmp_path / "missing.json"), "does not exist"),
        (lambda: load_hf_tokenizer_json(tmp_path / "missing.json"), "does not exist"),
    ]:
        with pytest.raises(GlossaError, match=message) as error:
            call()
        assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: {**d, "model": {**d["model"], "type": "WordPiece"}}, "holds a 'WordPiece' model, not BPE"),
        (lambda d: {**d, "pre_tokenizer": {"type": "Whitespace"}}, "pre-tokenizer glossa does not know"),
        (lambda d: {**d, "normalizer": {"type": "NFC"}}, "has a normalizer"),
        (lambda d: {**d, "model": {**d["model"], "byte_fallback": True}}, "byte_fallback"),
        (lambda d: {**d, "model": {**d["model"], "merges": [1]}}, "neither 'left right' nor"),
        (lambda d: {"vocab": {}}, "not an HF tokenizer.json"),
    ],
)
def test_unsupported_hf_file_is_a_one_line_error(trained, tmp_path, change, message):
    save_hf_tokenizer_json(trained, tmp_path / "good.json")
    good = json.loads((tmp_path / "good.json").read_text(encoding="utf-8"))
    path = write_json(tmp_path / "tokenizer.json", change(good))
    with pytest.raises(GlossaError, match=message) as error:
        load_hf_tokenizer_json(path)
    assert "\n" not in str(error.value)

"""SmolLM2's tokenizer read from its GGUF: the same ids as the reference on every text, and clear refusals.

The reference (conftest `smollm2_reference`) is HF `tokenizers` over the GGUF's vocabulary and merges with the
digit-splitting pre-tokenizer SmolLM2 declares; it agrees with llama.cpp.
"""

from __future__ import annotations

import re

import gguf
import numpy as np
import pytest

from glossa.errors import GlossaError
from glossa.tokenizers.bytelevel import bytes_to_unicode
from glossa.tokenizers.gguf_tokenizer import tokenizer_from_gguf
from glossa.tokenizers.loading import load_tokenizer

TEXTS = {
    "english": "Hello world! It's a test, isn't it? They'll say we'd've DONE it.",
    "chinese": "我爱自然语言处理。今天天气很好，我们去公园散步吧！",
    "japanese": "こんにちは、世界。東京は日本の首都です。カタカナとひらがな、漢字。",
    "arabic": "مرحبا بالعالم، هذه جملة عربية للاختبار.",
    "hindi": "नमस्ते दुनिया, यह एक हिंदी वाक्य है।",
    "korean": "안녕하세요 세계! 한국어 문장입니다.",
    "emoji": "👨‍👩‍👧‍👦 family 👍🏽 thumbs 🏳️‍🌈 flag 🧑🏿‍💻 coder 🇫🇷 ❤️‍🔥",
    "combining": "e\u0301 vs é, n\u0303, a\u0308\u0304, Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇, ﬁ ligature, Straße, naïve café",
    "code": "def f(x):\n\treturn x**2  # square\n\nif __name__ == '__main__':\n    print(f(3), {'a': [1]})\n",
    "whitespace": "a  b   c\t\td\n\n\ne \r\n f      \n\t \n  x\u00a0y\u3000z   ",
    "leading spaces": "   leading and trailing   ",
    "only spaces": "     ",
    "only newlines": "\n\n\n",
    "digits": "1234567890 3.14159 1,000,000 0x1F 2024-11-29 ١٢٣ ४५६ x² ½ Ⅻ 10th",
    "special lookalikes": "<|im_start|>user\nhi<|im_end|> <|endoftext|> < |im_start| > <|im_start",
    "controls": "\x00\x01\x7f\u200b\ufeff\u202e end",
    "long run of one letter": "a" * 3000,
    "long run of spaces": " " * 2000 + "x",
    "long word": "ab" * 1500,
    "empty": "",
}


@pytest.fixture(scope="module")
def smollm2():
    return load_tokenizer("smollm2")


@pytest.mark.parametrize("name", list(TEXTS))
def test_same_ids_as_reference(smollm2, smollm2_reference, name):
    text = TEXTS[name]
    ids = smollm2.encode(text)
    assert ids == smollm2_reference.encode(text).ids
    assert smollm2.decode(ids) == text


def test_tiny_shakespeare(smollm2, smollm2_reference, tinyshakespeare_path):
    text = tinyshakespeare_path.read_text(encoding="utf-8")
    ids = smollm2.encode(text)
    # The reference runs over paragraphs in parallel to save time; cutting between the two newlines before a
    # paragraph gives the same pieces as the whole text (checked by the equality itself).
    paragraphs = re.split(r"(?<=\S\n)(?=\n\S)", text)
    reference = [token for encoding in smollm2_reference.encode_batch(paragraphs) for token in encoding.ids]
    assert len(ids) == len(reference) == 341_094
    assert ids == reference
    assert smollm2.decode(ids) == text


def test_special_tokens_only_when_allowed(smollm2, smollm2_reference):
    text = "<|im_start|>user\nhi<|im_end|>\n"
    plain = smollm2.encode(text)
    assert 1 not in plain and 2 not in plain
    allowed = smollm2.encode(text, allowed_special="all")
    assert allowed == [1, *smollm2_reference.encode("user\nhi").ids, 2, *smollm2_reference.encode("\n").ids]
    assert smollm2.decode(allowed) == text
    assert smollm2.decode(allowed, skip_special_tokens=True) == "user\nhi\n"


def test_metadata_becomes_tokenizer_settings(smollm2):
    assert smollm2.vocab_size == 49152
    assert smollm2.name == "smollm2"
    assert (smollm2.bos_id, smollm2.eos_id, smollm2.pad_id) == (1, 2, 2)
    assert smollm2.special_tokens["<|im_start|>"] == 1 and len(smollm2.special_tokens) == 17
    assert smollm2.pretokenizer == "smollm" and not smollm2.ignore_merges
    assert smollm2.chat_template.startswith("{% for message in messages %}")
    assert smollm2.encode("Hello world 123") == [19556, 905, 216, 33, 34, 35]
    assert smollm2.encode("hi", add_special_tokens=True) == smollm2.encode("hi")  # add_bos_token is false
    assert smollm2.token_bytes(19556) == b"Hello" and smollm2.token_bytes(1) == b""


# -- small GGUF files written here --------------------------------------------------------------------------


def write_gguf(path, **tokenizer) -> None:
    """A GGUF with no tensors and the tokenizer keys given (None leaves a key out)."""
    writer = gguf.GGUFWriter(path, "llama")
    byte_tokens = sorted(bytes_to_unicode().values())
    tokens = tokenizer.pop("tokens", ["<|end|>", *byte_tokens, "Ġt", "he", "Ġthe"])
    defaults = {
        "model": "gpt2",
        "pre": "llama-bpe",
        "merges": ["Ġ t", "h e", "Ġt he"],
        "token_types": [3] + [1] * (len(tokens) - 1),
        "eos": 0,
        "bos": None,
        "add_bos": None,
    }
    settings = {**defaults, **tokenizer}
    if settings["model"] is not None:
        writer.add_tokenizer_model(settings["model"])
        writer.add_token_list(tokens)
    if settings["pre"] is not None:
        writer.add_tokenizer_pre(settings["pre"])
    if settings["merges"] is not None:
        writer.add_token_merges(settings["merges"])
    if settings["token_types"] is not None:
        writer.add_token_types(settings["token_types"])
    if settings["eos"] is not None:
        writer.add_eos_token_id(settings["eos"])
    if settings["bos"] is not None:
        writer.add_bos_token_id(settings["bos"])
    if settings["add_bos"] is not None:
        writer.add_add_bos_token(settings["add_bos"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


def test_small_gguf_tokenizer(tmp_path):
    path = tmp_path / "small.gguf"
    write_gguf(path, bos=0, add_bos=True)
    tokenizer = tokenizer_from_gguf(path)
    assert tokenizer.pretokenizer == "llama3" and tokenizer.ignore_merges
    the = tokenizer.token_to_id("Ġthe")
    assert tokenizer.encode("a the") == [tokenizer.token_to_id("a"), the]
    assert tokenizer.encode("the", add_special_tokens=True)[0] == 0
    assert tokenizer.encode("<|end|>", allowed_special="all") == [0]
    assert tokenizer.eos_id == 0


def test_user_defined_tokens_are_special(tmp_path):
    path = tmp_path / "user-defined.gguf"
    byte_tokens = sorted(bytes_to_unicode().values())
    tokens = ["<|end|>", *byte_tokens, "Ġt", "<tool>"]
    write_gguf(path, tokens=tokens, merges=["Ġ t"], token_types=[3] + [1] * 257 + [4])
    tokenizer = tokenizer_from_gguf(path)
    assert tokenizer.special_tokens == {"<|end|>": 0, "<tool>": 258}


def one_line_error(path) -> str:
    with pytest.raises(GlossaError) as raised:
        tokenizer_from_gguf(path)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_gguf_without_tokenizer(tmp_path):
    path = tmp_path / "no-tokenizer.gguf"
    write_gguf(path, model=None, pre=None, merges=None, token_types=None, eos=None)
    assert "has no tokenizer" in one_line_error(path)
    with pytest.raises(GlossaError, match="has no tokenizer"):
        load_tokenizer(path)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"model": "llama"}, "'llama' tokenizer"),
        ({"model": "bert"}, "'bert' tokenizer"),
        ({"pre": "qwen2"}, "pre-tokenizer 'qwen2'"),
        ({"merges": ["Ġt"]}, "entry 0 is 'Ġt'"),
        ({"merges": ["Ġ t h"]}, "entry 0"),
        ({"merges": ["x y"]}, "not in the vocabulary"),
        ({"eos": 10_000}, "eos_token_id"),
        ({"token_types": [1, 2, 3]}, "one per token"),
    ],
)
def test_bad_tokenizer_metadata(tmp_path, settings, message):
    path = tmp_path / "bad.gguf"
    write_gguf(path, **settings)
    assert message in one_line_error(path)


def test_truncated_gguf_is_a_clean_error(smollm2_gguf_path, tmp_path):
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(smollm2_gguf_path.read_bytes()[:500_000])
    assert "damaged GGUF file" in one_line_error(truncated)


def test_token_types_array_is_numpy(smollm2_gguf_path):
    from glossa.formats.gguf import read_gguf_metadata

    types = read_gguf_metadata(smollm2_gguf_path)["tokenizer.ggml.token_type"]
    assert isinstance(types, np.ndarray) and int((types == 3).sum()) == 17

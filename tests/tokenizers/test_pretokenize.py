"""The regex pre-tokenizers against HF `tokenizers`' pre-tokenizers, and their own invariants."""

from __future__ import annotations

import os
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.errors import GlossaError
from glossa.tokenizers.bytelevel import to_byte_level
from glossa.tokenizers.pretokenize import (
    LLAMA3_PATTERN,
    PRETOKENIZER_NAMES,
    pretokenize,
    smollm_two_pass,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HARD_TEXTS = [
    "Hello world's 2024! I'm here, you'll see; they'd've DON'T 'S",
    "  leading and trailing  \n\n\n  \t\tmixed\r\nwhitespace   ",
    "numbers 1 12 123 1234 12345 3.14159 1,000,000 ١٢٣ ⅷ ½ ²",
    "中文测试：你好，世界！日本語のテキスト、カタカナ。한국어 텍스트입니다.",
    "العربية نص مع أرقام ٣٤ — हिन्दी पाठ, नमस्ते दुनिया",
    "emoji 👨‍👩‍👧‍👦 👍🏽 🏳️‍🌈 🇫🇷 ❤️",
    "combining: e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353",
    "def f(x):\n    return x**2  # comment\n\tif x != 0: print(f'{x!r}')\n",
    "<|endoftext|><|im_start|>user\n[CLS] <s> </s> <pad>",
    "odd spaces: \u00a0\u2003\u3000\u2028\u0085 and controls \x1c\x1d\x1e\x1f\x00\x7f end",
    "",
    " ",
    "\n",
    "a",
    "'s's'S'll",
    "   7",
    "x  9y",
]


def hf_pre_tokenizer(name: str):
    from tokenizers import Regex, pre_tokenizers

    if name == "gpt2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if name == "smollm":
        return pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


@pytest.mark.parametrize("name", PRETOKENIZER_NAMES)
@pytest.mark.parametrize("text", HARD_TEXTS)
def test_pieces_equal_hf(name, text):
    expected = [piece for piece, _ in hf_pre_tokenizer(name).pre_tokenize_str(text)]
    assert [to_byte_level(piece) for piece in pretokenize(name, text)] == expected


def test_examples_split_as_documented():
    assert pretokenize("gpt2", "Hello world's 2024!") == ["Hello", " world", "'s", " 2024", "!"]
    assert pretokenize("llama3", "Hello world's 2024!") == ["Hello", " world", "'s", " ", "202", "4", "!"]
    assert pretokenize("smollm", "in 2024") == ["in", " ", "2", "0", "2", "4"]
    assert pretokenize("gpt2", "a   b") == ["a", "  ", " b"]


ASSIGNED = st.characters(codec="utf-8").filter(lambda char: unicodedata.category(char) != "Cn")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ASSIGNED | st.sampled_from(list(" \t\n'1a")), max_size=30))
def test_random_text_splits_as_hf_does(text):
    """Only code points assigned in Python's Unicode tables: for unassigned ones the `regex` module's newer
    Unicode data and HF's Oniguruma disagree on \\p{L} (e.g. U+3D000), and neither is wrong."""
    for name in PRETOKENIZER_NAMES:
        expected = [piece for piece, _ in hf_pre_tokenizer(name).pre_tokenize_str(text)]
        assert [to_byte_level(piece) for piece in pretokenize(name, text)] == expected


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_pieces_cover_the_text(text):
    for name in PRETOKENIZER_NAMES:
        assert "".join(pretokenize(name, text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab 1٣\t\n'.é")) | st.characters(), max_size=40))
def test_smollm_single_regex_equals_its_two_pass_definition(text):
    assert pretokenize("smollm", text) == smollm_two_pass(text)


def test_unknown_name_is_a_one_line_error():
    with pytest.raises(GlossaError, match="unknown pre-tokenizer 'gpt4'") as error:
        pretokenize("gpt4", "text")
    assert "\n" not in str(error.value)

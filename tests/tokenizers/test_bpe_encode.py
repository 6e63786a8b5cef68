"""Encoding is exact: the same ids as HF `tokenizers` for the same vocabulary, merges and pre-tokenizer.

The vocabulary comes from HF's own BpeTrainer (tiny Shakespeare, 4096 ids), so these tests do not depend on
glossa's trainer; SmolLM2's real vocabulary (49152 ids, 21 bytes without a token) is checked too.
"""

from __future__ import annotations

import json
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.errors import GlossaError
from glossa.tokenizers.bpe import ByteLevelBPE, merge_ids, merge_ids_heap
from glossa.tokenizers.pretokenize import LLAMA3_PATTERN, PRETOKENIZER_NAMES

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_random = random.Random(0)
HARD_TEXTS = [
    "Hello world's 2024! I'm here, you'll see; they'd've DON'T 'S",
    "  leading and trailing  \n\n\n  \t\tmixed\r\nwhitespace   \n",
    "numbers 1 12 123 1234 12345 3.14159 1,000,000 ١٢٣ ⅷ ½ ² 0x7F 1e-9",
    "中文测试：你好，世界！日本語のテキスト、カタカナとひらがな。한국어 텍스트입니다.",
    "العربية نص مع أرقام ٣٤ — हिन्दी पाठ, नमस्ते दुनिया। Ελληνικά, русский текст",
    "emoji 👨‍👩‍👧‍👦 👍🏽👍🏿 🏳️‍🌈 🇫🇷🇯🇵 ❤️‍🔥 🧑🏾‍💻",
    "combining: e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353 precomposed é ä ñ",
    "def f(x):\n    return x**2  # comment\n\tif x != 0: print(f'{x!r}')\n\n\n",
    "<|endoftext|><|im_start|>user\nhi<|im_end|> [CLS] <s> </s> <pad> <|endoftext",
    "odd spaces: \u00a0\u2003\u3000\u2028\u0085 controls \x1c\x1d\x1e\x1f\x00\x04\x7f\xff end",
    "",
    " ",
    "\n\n",
    "a" * 700,
    " " * 300 + "x",
    "".join(_random.choice("abcdefgh") for _ in range(3000)),
    "东西南北" * 200,
]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def hf_pre_tokenizer(name: str):
    from tokenizers import Regex, pre_tokenizers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if name == "gpt2":
        return byte_level
    if name == "smollm":
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def hf_bpe(vocab, merges, name, *, specials=(), ignore_merges=False):
    from tokenizers import AddedToken, Tokenizer, decoders, models

    model = models.BPE(
        vocab={token: i for i, token in enumerate(vocab)}, merges=list(merges), ignore_merges=ignore_merges
    )
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = hf_pre_tokenizer(name)
    tokenizer.decoder = decoders.ByteLevel()
    if specials:
        tokenizer.add_special_tokens([AddedToken(text, normalized=False) for text in specials])
    return tokenizer


@pytest.fixture(scope="module")
def shakespeare(tinyshakespeare_path):
    return tinyshakespeare_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def hf_trained(shakespeare):
    """Vocabulary (specials first) and merges from HF's BpeTrainer on tiny Shakespeare."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=4096,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([shakespeare], trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab = [token for token, _ in sorted(model["vocab"].items(), key=lambda item: item[1])]
    return vocab, [tuple(merge) for merge in model["merges"]]


@pytest.fixture(scope="module", params=PRETOKENIZER_NAMES)
def pair(request, hf_trained):
    """(glossa tokenizer, HF tokenizer without added tokens, HF tokenizer with the specials) for one name."""
    vocab, merges = hf_trained
    specials = {text: vocab.index(text) for text in SPECIALS}
    ours = ByteLevelBPE(vocab, merges, pretokenizer=request.param, special_tokens=specials)
    return ours, hf_bpe(vocab, merges, request.param), hf_bpe(vocab, merges, request.param, specials=SPECIALS)


def test_tiny_shakespeare_ids_equal_hf(pair, shakespeare):
    ours, hf, _ = pair
    ids = ours.encode(shakespeare)
    assert ids == hf.encode(shakespeare).ids
    assert len(ids) > 250_000
    assert ours.decode(ids) == shakespeare


@pytest.mark.parametrize("text", HARD_TEXTS, ids=range(len(HARD_TEXTS)))
def test_hard_texts_ids_equal_hf(pair, text):
    ours, hf, hf_with_specials = pair
    assert ours.encode(text) == hf.encode(text).ids
    assert ours.encode(text, allowed_special="all") == hf_with_specials.encode(text).ids
    assert ours.decode(ours.encode(text)) == text


def test_special_token_text_is_plain_unless_allowed(pair):
    ours, _, _ = pair
    text = "a<|im_start|>b<|im_end|>"
    start, end = ours.special_tokens["<|im_start|>"], ours.special_tokens["<|im_end|>"]
    assert start not in ours.encode(text) and end not in ours.encode(text)
    assert ours.decode(ours.encode(text)) == text
    only_start = ours.encode(text, allowed_special={"<|im_start|>"})
    assert start in only_start and end not in only_start
    assert ours.encode(text, allowed_special="all") == [*ours.encode("a"), start, *ours.encode("b"), end]
    assert ours.decode(ours.encode(text, allowed_special="all"), skip_special_tokens=True) == "ab"


def test_smollm2_real_vocabulary_matches_hf(smollm2_gguf_reader, smollm2_reference, tinyshakespeare_path):
    reader = smollm2_gguf_reader
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(merge.split(" ")) for merge in reader.fields["tokenizer.ggml.merges"].contents()]
    ours = ByteLevelBPE(tokens, merges, pretokenizer="smollm")
    for text in [*HARD_TEXTS, tinyshakespeare_path.read_text(encoding="utf-8")[:200_000]]:
        assert ours.encode(text) == smollm2_reference.encode(text).ids
    assert ours.encode("Hello world 123") == [19556, 905, 216, 33, 34, 35]
    assert ours.encode("\x04") == []  # SmolLM2 has no token for byte 0x04: dropped, as HF and llama.cpp do


def test_ignore_merges_takes_whole_pieces_as_hf_does():
    from glossa.tokenizers.bytelevel import bytes_to_unicode

    alphabet = sorted(bytes_to_unicode().values())
    vocab = [*alphabet, "ab", "abc", "Ġabc"]
    merges = [("a", "b")]
    for ignore in (False, True):
        ours = ByteLevelBPE(vocab, merges, ignore_merges=ignore)
        hf = hf_bpe(vocab, merges, "gpt2", ignore_merges=ignore)
        for text in ["abc", " abc", "abcd ab abc"]:
            assert ours.encode(text) == hf.encode(text).ids
    assert ByteLevelBPE(vocab, merges, ignore_merges=True).encode("abc") == [vocab.index("abc")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("aabbc ")), min_size=0, max_size=80))
def test_heap_merge_equals_loop_merge(symbols):
    from glossa.tokenizers.bytelevel import bytes_to_unicode

    alphabet = sorted(bytes_to_unicode().values())
    merges = [
        ("a", "a"),
        ("b", "b"),
        ("a", "b"),
        ("aa", "a"),
        ("ab", "b"),
        ("Ġ", "a"),
        ("b", "aa"),
        ("c", "Ġ"),
    ]
    vocab = [*alphabet, *dict.fromkeys(left + right for left, right in merges)]
    bpe = ByteLevelBPE(vocab, merges)
    ids = [bpe.token_to_id("Ġ" if symbol == " " else symbol) for symbol in symbols]
    assert merge_ids_heap(list(ids), bpe._merge_table) == merge_ids(list(ids), bpe._merge_table)


def test_add_special_tokens_prepends_bos_only_when_asked(hf_trained):
    vocab, merges = hf_trained
    bpe = ByteLevelBPE(vocab, merges, special_tokens={"<|im_start|>": 1}, bos_id=1, add_bos=True)
    assert bpe.encode("hi", add_special_tokens=True) == [1, *bpe.encode("hi")]
    assert ByteLevelBPE(vocab, merges, bos_id=1).encode("hi", add_special_tokens=True) == bpe.encode("hi")


def test_cache_is_bounded(hf_trained, monkeypatch):
    import glossa.tokenizers.bpe as bpe_module

    monkeypatch.setattr(bpe_module, "CACHE_LIMIT", 10)
    bpe = ByteLevelBPE(*hf_trained)
    text = " ".join(f"w{i}x" for i in range(100))
    assert bpe.encode(text) == ByteLevelBPE(*hf_trained).encode(text)
    assert len(bpe._cache) <= 10


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda bpe: bpe.decode([0, 4096]), "token id 4096 is outside the vocabulary"),
        (lambda bpe: bpe.decode([-1]), "token id -1 is outside"),
        (lambda bpe: bpe.token_bytes(99999), "outside the vocabulary"),
        (lambda bpe: bpe.encode("x", allowed_special={"<nope>"}), "'<nope>' is not a special token"),
        (lambda bpe: bpe.encode("x", allowed_special="some"), "use 'none', 'all'"),
        (lambda bpe: bpe.encode("a\ud800b"), "lone surrogate U\\+D800"),
        (lambda bpe: ByteLevelBPE(bpe.vocab, bpe.merges, pretokenizer="gpt5"), "unknown pre-tokenizer"),
        (lambda bpe: ByteLevelBPE(["a"], [("a", "b")]), "not in the vocabulary"),
        (lambda bpe: ByteLevelBPE(["a"], [], special_tokens={"<s>": 5}), "leaving ids 1..4 undefined"),
        (lambda bpe: ByteLevelBPE(["a"], [], bos_id=3), "bos_id 3 is outside"),
    ],
)
def test_bad_input_is_a_one_line_error(hf_trained, call, message):
    bpe = ByteLevelBPE(*hf_trained, special_tokens={"<|endoftext|>": 0})
    with pytest.raises(GlossaError, match=message) as error:
        call(bpe)
    assert "\n" not in str(error.value)

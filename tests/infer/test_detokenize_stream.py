"""`IncrementalDetokenizer` on SmolLM2's real tokenizer: any split of the ids streams the whole decode, and
stop strings that span tokens are honoured without leaking a character of them."""

from __future__ import annotations

import random

import pytest

from glossa import load_tokenizer
from glossa.errors import GlossaError
from glossa.infer.detokenize import IncrementalDetokenizer

TEXTS = [
    "Hello, world! 👋 How are you today?",
    "日本語のテキスト、そして中文字符。한국어도 있습니다.",
    "Emoji run: 🧑‍🚀🚀🌍 and flags 🇫🇷🇯🇵, then café naïve façade.",
    "def f(x):\n    return x ** 2  # ∑ over ∞\n\n\nUser: done",
    "mixed 漢字 and 😀😃😄 with\ttabs and   spaces",
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("smollm2")


def random_text(rng: random.Random) -> str:
    alphabet = list("abc xyz,.!\n") + list("日本語中文한국") + ["😀", "🚀", "👋🏽", "é", "ß", "∞"]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))


def random_split(ids: list[int], rng: random.Random) -> list[list[int]]:
    pieces, start = [], 0
    while start < len(ids):
        end = start + rng.randint(1, 4)
        pieces.append(ids[start:end])
        start = end
    return pieces


def stream(
    tokenizer, ids: list[int], stop: list[str], rng: random.Random
) -> tuple[list[str], IncrementalDetokenizer]:
    detok = IncrementalDetokenizer(tokenizer, stop)
    out = []
    for piece in random_split(ids, rng):
        out.append(detok.feed(piece))
        if detok.finished:
            break
    out.append(detok.finish())
    return out, detok


def test_any_split_streams_the_whole_decode(tokenizer):
    rng = random.Random(0)
    texts = TEXTS + [random_text(rng) for _ in range(40)]
    for text in texts:
        ids = tokenizer.encode(text)
        expected = tokenizer.decode(ids)
        for _ in range(3):
            pieces, detok = stream(tokenizer, ids, [], rng)
            assert "".join(pieces) == expected
            assert all("\ufffd" not in piece for piece in pieces) or "\ufffd" in expected
            assert detok.finish_reason == "length" and detok.text == expected


def test_one_token_at_a_time_never_emits_half_a_character(tokenizer):
    ids = tokenizer.encode("🧑‍🚀 日本")
    detok = IncrementalDetokenizer(tokenizer)
    pieces = [detok.feed([token_id]) for token_id in ids]
    assert "" in pieces  # some tokens hold only part of a character
    assert all("\ufffd" not in piece for piece in pieces)
    assert "".join(pieces) + detok.finish() == "🧑‍🚀 日本"


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("The answer is 42.\n\nUser: next question", ["\n\nUser:"]),
        ("abc 😀😃 end", ["😃 e"]),
        ("日本語のテキスト、中文字符", ["テキスト、中"]),
        ("no stop in here at all", ["zzz", "here at x"]),
        ("stop at the first of two: AB then CD", ["CD", "AB"]),
        ("ends on a partial stop <|im_e", ["<|im_end|>"]),
    ],
)
def test_stop_strings_spanning_tokens_are_honoured_and_never_leak(tokenizer, text, stop):
    ids = tokenizer.encode(text)
    decoded = tokenizer.decode(ids)
    positions = [decoded.find(s) for s in stop if s in decoded]
    expected = decoded[: min(positions)] if positions else decoded
    rng = random.Random(1)
    for _ in range(20):
        pieces, detok = stream(tokenizer, ids, stop, rng)
        emitted = ""
        for piece in pieces:
            emitted += piece
            assert expected.startswith(emitted)  # nothing past the stop point is ever shown
        assert emitted == expected
        assert detok.finish_reason == ("stop" if positions else "length")


def test_after_a_stop_further_ids_are_ignored(tokenizer):
    detok = IncrementalDetokenizer(tokenizer, ["world"])
    assert detok.feed(tokenizer.encode("hello world and more")) == "hello "
    assert detok.finished and detok.stop_string == "world"
    assert detok.feed(tokenizer.encode("again")) == "" and detok.finish() == ""


def test_bad_stop_lists_are_glossa_errors(tokenizer):
    with pytest.raises(GlossaError, match="stop must be a list of strings"):
        IncrementalDetokenizer(tokenizer, [3])
    with pytest.raises(GlossaError, match="each stop string"):
        IncrementalDetokenizer(tokenizer, [""])

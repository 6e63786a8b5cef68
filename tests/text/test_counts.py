"""`count_units` and `utf8_length_histogram` against `len` of Python's encodings; graphemes on examples."""

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.text.counts import TextCounts, count_units, utf8_length_histogram
from glossa.text.graphemes import count_graphemes, split_graphemes

EXAMPLES = ["", "plain ascii\r\n", "héllo 中 👍", "e\u0301", "👩‍👩‍👧", "🇫🇷", "한국어", "नमस्ते"]
EXAMPLES += ["\x00\uffff\U00010000"]


def python_counts(text: str) -> TextCounts:
    return TextCounts(
        code_points=len(text),
        graphemes=len(regex.findall(r"\X", text)),
        utf8_bytes=len(text.encode("utf-8")),
        utf16_bytes=len(text.encode("utf-16-be")),
        utf32_bytes=len(text.encode("utf-32-be")),
        ascii_code_points=sum(char.isascii() for char in text),
    )


@pytest.mark.parametrize("text", EXAMPLES)
def test_counts_match_python_on_examples(text: str) -> None:
    assert count_units(text) == python_counts(text)


@settings(deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",))))
def test_counts_match_python(text: str) -> None:
    assert count_units(text) == python_counts(text)


@settings(deadline=None)
@given(st.text(st.characters(max_codepoint=0x7F)))
def test_ascii_shortcut_counts_graphemes_like_uax29(text: str) -> None:
    assert count_graphemes(text) == len(regex.findall(r"\X", text))


@settings(deadline=None)
@given(st.text())
def test_lone_surrogates_count_as_their_surrogatepass_bytes(text: str) -> None:
    counts = count_units(text)
    assert counts.utf8_bytes == len(text.encode("utf-8", "surrogatepass"))
    assert counts.utf16_bytes == len(text.encode("utf-16-be", "surrogatepass"))


@pytest.mark.parametrize(
    ("text", "graphemes", "code_points"),
    [("e\u0301", 1, 2), ("👩‍👩‍👧", 1, 5), ("🇫🇷", 1, 2), ("한국어", 3, 3), ("\r\n", 1, 2), ("👍🏽", 1, 2)],
)
def test_graphemes_of_known_examples(text: str, graphemes: int, code_points: int) -> None:
    counts = count_units(text)
    assert (counts.graphemes, counts.code_points) == (graphemes, code_points)
    assert "".join(split_graphemes(text)) == text


def test_devanagari_has_fewer_graphemes_than_code_points() -> None:
    counts = count_units("नमस्ते")
    assert counts.graphemes < counts.code_points == 6


@settings(deadline=None)
@given(st.text())
def test_histogram_adds_up(text: str) -> None:
    histogram = utf8_length_histogram(text)
    assert set(histogram) == {1, 2, 3, 4}
    assert sum(histogram.values()) == len(text)
    assert histogram[1] == sum(char.isascii() for char in text)


def test_histogram_and_ascii_share() -> None:
    assert utf8_length_histogram("héllo 中 👍") == {1: 6, 2: 1, 3: 1, 4: 1}
    assert count_units("ab中👍").ascii_share == 0.5
    assert count_units("").ascii_share == 0.0

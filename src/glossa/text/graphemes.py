"""Characters as people see them: extended grapheme clusters (Unicode UAX #29).

What a reader calls one character can be several code points: "é" written as e + U+0301 COMBINING ACUTE
ACCENT, the flag 🇫🇷 (two regional indicators), the family 👩‍👩‍👧 (three emoji joined by two ZERO WIDTH
JOINERs), a Devanagari syllable with its vowel sign and virama. Unicode's name for such a unit is an extended
grapheme cluster, and the rules that find their boundaries are in UAX #29; the `regex` module implements them
as `\\X`.

    >>> split_graphemes("e\\u0301🇫🇷한")
    ['é', '🇫🇷', '한']

Counting is what a length limit, a cursor or a "characters left" counter should use, and it is not free, so
plain ASCII takes a shortcut: there the only multi-code-point cluster is CR LF (rule GB3).
"""

from collections.abc import Iterator

import regex

GRAPHEME_CLUSTER = regex.compile(r"\X")


def iter_graphemes(text: str) -> Iterator[str]:
    """The grapheme clusters of `text`, one at a time (cheap to stop early on a long text)."""
    return (match.group() for match in GRAPHEME_CLUSTER.finditer(text))


def split_graphemes(text: str) -> list[str]:
    """The grapheme clusters of `text`, in order; joining them gives `text` back."""
    return GRAPHEME_CLUSTER.findall(text)


def count_graphemes(text: str) -> int:
    """How many user-perceived characters `text` has."""
    if text.isascii():
        return len(text) - text.count("\r\n")
    return GRAPHEME_CLUSTER.subn("", text)[1]

"""How long is a text? Counted in every unit that matters: characters, code points and encoded bytes.

One string has several honest lengths, and mixing them up is a classic bug (a byte limit checked with a
character count, a UTF-16 `length` shown as a character count):

    >>> count_units("héllo 👍")
    TextCounts(code_points=7, graphemes=7, utf8_bytes=11, utf16_bytes=16, utf32_bytes=28, ascii_code_points=5)

The byte counts are arithmetic over code points, never built strings: a code point's UTF-8 length is 1, plus 1
from U+0080, plus 1 from U+0800, plus 1 from U+10000; its UTF-16 length is 2, or 4 from U+10000; UTF-32 is
always 4. numpy does the comparisons over the whole array of code points at once, so a 5 MB text takes a
fraction of a second; the grapheme count (`\\X`) costs the most. A lone surrogate, which no encoding may hold,
is counted as the 3 (UTF-8) or 2 (UTF-16) bytes it would take if written anyway.
"""

from dataclasses import dataclass

import numpy as np

from glossa.text.graphemes import count_graphemes

UTF8_LENGTH_STEPS = (0x80, 0x800, 0x10000)  # each one passed adds a byte to the UTF-8 length


@dataclass(frozen=True)
class TextCounts:
    """The lengths of one text; byte counts exclude any byte order mark."""

    code_points: int
    graphemes: int  # extended grapheme clusters, i.e. user-perceived characters
    utf8_bytes: int
    utf16_bytes: int  # without BOM
    utf32_bytes: int  # without BOM
    ascii_code_points: int  # code points < 128

    @property
    def ascii_share(self) -> float:
        """Fraction of code points that are ASCII (0.0 for empty text)."""
        return self.ascii_code_points / self.code_points if self.code_points else 0.0


def code_point_array(text: str) -> np.ndarray:
    """The code points of `text` as a uint32 array."""
    return np.fromiter(map(ord, text), dtype=np.uint32, count=len(text))


def utf8_length_histogram(text: str) -> dict[int, int]:
    """How many code points take 1, 2, 3 and 4 bytes in UTF-8."""
    if text.isascii():
        return {1: len(text), 2: 0, 3: 0, 4: 0}
    code_points = code_point_array(text)
    at_least = [len(text)] + [int(np.count_nonzero(code_points >= step)) for step in UTF8_LENGTH_STEPS] + [0]
    return {length: at_least[length - 1] - at_least[length] for length in range(1, 5)}


def count_utf8_bytes(text: str) -> int:
    """The length of `text` in UTF-8, without encoding it."""
    return sum(length * count for length, count in utf8_length_histogram(text).items())


def count_units(text: str) -> TextCounts:
    """Code points, grapheme clusters, UTF-8/16/32 bytes and ASCII code points of `text`."""
    return counts_from_histogram(text, utf8_length_histogram(text))


def counts_from_histogram(text: str, histogram: dict[int, int]) -> TextCounts:
    """`count_units`, reusing a histogram the caller already has (every byte count follows from it)."""
    code_points = len(text)
    return TextCounts(
        code_points=code_points,
        graphemes=count_graphemes(text),
        utf8_bytes=sum(length * count for length, count in histogram.items()),
        utf16_bytes=2 * code_points + 2 * histogram[4],
        utf32_bytes=4 * code_points,
        ascii_code_points=histogram[1],
    )

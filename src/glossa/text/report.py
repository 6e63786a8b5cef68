"""One row per code point: everything §2 of the glossary says about a character, side by side.

A row puts the views of one code point next to each other: which user-perceived character (grapheme cluster)
it belongs to, its number and name, its general category, whether ASCII or an 8-bit "extended ASCII" can hold
it, and its bytes in UTF-8, UTF-16 and UTF-32 from our own encoders. Reading down the rows of "e\\u0301" or
"👍🏽" shows at once why "character", "code point" and "byte" are three different lengths.

    >>> [row.utf8 for row in character_rows("é👍")]
    ['C3 A9', 'F0 9F 91 8D']
    >>> character_rows("👍")[0].utf16
    'D83D DC4D'

Rows stop at `limit`, and the grapheme clusters are found lazily, so a long text costs only the rows shown.
"""

from dataclasses import dataclass
from itertools import islice

from glossa.text.ascii import describe_eight_bit
from glossa.text.codepoints import CodePointInfo, describe_code_point
from glossa.text.graphemes import iter_graphemes
from glossa.text.utf8 import encode_utf8
from glossa.text.utf16 import encode_utf16
from glossa.text.utf32 import encode_utf32


@dataclass(frozen=True)
class CharacterRow:
    """One code point of a text, with its place among the text's user-perceived characters."""

    character_number: int  # 1-based index of the grapheme cluster this code point belongs to
    info: CodePointInfo
    eight_bit: str  # ASCII / Latin-1 / Windows-1252 status
    utf8: str  # bytes in hex, e.g. "C3 A9"
    utf16: str  # big-endian 16-bit code units, e.g. "D83D DC4D" (a surrogate pair)
    utf32: str  # one big-endian 32-bit unit, e.g. "0001F44D"


def hex_units(data: bytes, unit_size: int) -> str:
    """Bytes as space-separated hex code units of `unit_size` bytes."""
    return " ".join(data[start : start + unit_size].hex().upper() for start in range(0, len(data), unit_size))


def describe_character(char: str, character_number: int) -> CharacterRow:
    """The table row for one code point."""
    code_point = ord(char)
    info = describe_code_point(code_point)
    return CharacterRow(
        character_number=character_number,
        info=info,
        eight_bit=describe_eight_bit(code_point),
        utf8=hex_units(encode_utf8(char), 1),
        utf16=hex_units(encode_utf16(char), 2),
        utf32=hex_units(encode_utf32(char), 4),
    )


def character_rows(text: str, limit: int | None = None) -> list[CharacterRow]:
    """The rows of the first `limit` code points of `text` (all of them for None)."""
    rows = (
        describe_character(char, number)
        for number, cluster in enumerate(iter_graphemes(text), start=1)
        for char in cluster
    )
    return list(islice(rows, limit))

"""ASCII and "extended ASCII": where a code point sits among the one-byte encodings.

ASCII is a 7-bit code: 128 values, 0-127, for English letters, digits, punctuation and control codes. Every
encoding that matters today agrees with it on those 128 values, and in UTF-8 they are one byte each.

"Extended ASCII" is not one encoding but a family of 8-bit ones that each gave the upper 128 byte values their
own meaning. Two members matter for text found in files:

- ISO-8859-1 (Latin-1) maps byte N to code point U+00NN for all 256 values, so code points 0-255 are exactly
  Latin-1, which is why Unicode starts with it.
- Windows-1252 agrees with Latin-1 from 0xA0 to 0xFF but puts printable characters (€, “, ”, …, ™, Š) where
  Latin-1 has the C1 control codes 0x80-0x9F, and leaves five of those bytes undefined. Text that says it is
  Latin-1 is very often really Windows-1252; mixing the two up gives the classic mojibake.

    >>> describe_eight_bit(0xE9)
    'Latin-1 (ISO-8859-1) 0xE9; Windows-1252 0xE9'
    >>> describe_eight_bit(0x20AC)
    'not ASCII; Windows-1252 0x80'
"""

from dataclasses import dataclass

ASCII_END = 0x80  # code points below this are ASCII
LATIN_1_END = 0x100  # code points below this are Latin-1, byte for byte

# What Windows-1252 puts at 0x80-0x9F (None: undefined). From 0xA0 on it is Latin-1.
WINDOWS_1252_HIGH_CONTROLS: tuple[int | None, ...] = (
    0x20AC, None, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, None, 0x017D, None,
    None, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, None, 0x017E, 0x0178,
)  # fmt: skip
WINDOWS_1252_BYTE_OF: dict[int, int] = {
    code_point: 0x80 + offset
    for offset, code_point in enumerate(WINDOWS_1252_HIGH_CONTROLS)
    if code_point is not None
}


@dataclass(frozen=True)
class EightBitStatus:
    """Which one-byte encodings can hold a code point, and at which byte."""

    code_point: int
    is_ascii: bool
    latin_1_byte: int | None  # the ISO-8859-1 byte, if any
    windows_1252_byte: int | None  # the Windows-1252 byte, if any


def windows_1252_code_point(byte: int) -> int | None:
    """The code point Windows-1252 gives a byte, or None for its five undefined bytes."""
    if not 0 <= byte <= 0xFF:
        raise ValueError(f"{byte} is not a byte (0-255)")
    if 0x80 <= byte <= 0x9F:
        return WINDOWS_1252_HIGH_CONTROLS[byte - 0x80]
    return byte


def eight_bit_status(code_point: int) -> EightBitStatus:
    """ASCII, Latin-1 and Windows-1252 membership of one code point."""
    latin_1_byte = code_point if code_point < LATIN_1_END else None
    if code_point < ASCII_END or 0xA0 <= code_point < LATIN_1_END:
        windows_1252_byte: int | None = code_point
    else:
        windows_1252_byte = WINDOWS_1252_BYTE_OF.get(code_point)
    return EightBitStatus(code_point, code_point < ASCII_END, latin_1_byte, windows_1252_byte)


def describe_eight_bit(code_point: int) -> str:
    """One line for a table cell: 'ASCII 65', 'Latin-1 (ISO-8859-1) 0xE9; Windows-1252 0xE9', 'not ASCII'."""
    status = eight_bit_status(code_point)
    if status.is_ascii:
        return f"ASCII {code_point}"
    if status.latin_1_byte is not None:
        latin_1 = f"Latin-1 (ISO-8859-1) 0x{status.latin_1_byte:02X}"
        if status.windows_1252_byte is not None:
            return f"{latin_1}; Windows-1252 0x{status.windows_1252_byte:02X}"
        other = windows_1252_code_point(code_point)
        there = f"U+{other:04X} {chr(other)}" if other is not None else "undefined"
        return f"{latin_1}; not in Windows-1252 (0x{code_point:02X} there: {there})"
    if status.windows_1252_byte is not None:
        return f"not ASCII; Windows-1252 0x{status.windows_1252_byte:02X}"
    return "not ASCII"

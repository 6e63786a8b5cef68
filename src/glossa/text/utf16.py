"""UTF-16: code points as 16-bit code units, with surrogate pairs for everything above U+FFFF.

UTF-16 is often called fixed-length, and it is not: a code point up to U+FFFF (the Basic Multilingual Plane)
is one 16-bit unit, and one above it is two, a "surrogate pair". The pair is built from the 20 bits left after
subtracting 0x10000: the high ten bits go into a high surrogate (0xD800 + bits), the low ten into a low
surrogate (0xDC00 + bits). That is why U+D800..U+DFFF are reserved and never characters.

    >>> [f"{unit:04X}" for unit in utf16_code_units(0x1F44D)]
    ['D83D', 'DC4D']
    >>> encode_utf16("A👍").hex(" ")
    '00 41 d8 3d dc 4d'

Java strings, JavaScript strings and the Windows API are UTF-16, so `"👍".length` is 2 there. Bytes are
written big-endian (UTF-16BE) unless asked otherwise, and without a byte order mark.
"""

from typing import Literal

from glossa.text.codepoints import require_scalar_value

SUPPLEMENTARY_START = 0x10000  # first code point that needs a surrogate pair
HIGH_SURROGATE_BASE = 0xD800
LOW_SURROGATE_BASE = 0xDC00


def utf16_code_units(code_point: int) -> tuple[int, ...]:
    """The one or two 16-bit code units of a Unicode scalar value."""
    if code_point < SUPPLEMENTARY_START:
        return (code_point,)
    offset = code_point - SUPPLEMENTARY_START  # 20 bits
    return (HIGH_SURROGATE_BASE | offset >> 10, LOW_SURROGATE_BASE | offset & 0x3FF)


def encode_utf16(text: str, byte_order: Literal["big", "little"] = "big") -> bytes:
    """Encode `text` as UTF-16 without a BOM; a lone surrogate raises `UnencodableError`."""
    out = bytearray()
    for index, char in enumerate(text):
        code_point = ord(char)
        require_scalar_value(code_point, index, "UTF-16")
        for unit in utf16_code_units(code_point):
            out += unit.to_bytes(2, byte_order)
    return bytes(out)

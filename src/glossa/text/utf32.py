"""UTF-32: every code point as one 32-bit number, the only truly fixed-length Unicode encoding form.

Four bytes per code point make indexing trivial and text four times the size of ASCII, so UTF-32 lives inside
programs (Python's `str` stores wide strings this way, as does `wchar_t` on Linux) rather than in files.

    >>> encode_utf32("A👍").hex(" ")
    '00 00 00 41 00 01 f4 4d'

Fixed length per code point is still not fixed length per character: "é" may be one code point or two
(e + U+0301 COMBINING ACUTE ACCENT), and "👩‍👩‍👧" is five.
"""

from typing import Literal

from glossa.text.codepoints import require_scalar_value


def encode_utf32(text: str, byte_order: Literal["big", "little"] = "big") -> bytes:
    """Encode `text` as UTF-32 without a BOM; a lone surrogate raises `UnencodableError`."""
    out = bytearray()
    for index, char in enumerate(text):
        code_point = ord(char)
        require_scalar_value(code_point, index, "UTF-32")
        out += code_point.to_bytes(4, byte_order)
    return bytes(out)

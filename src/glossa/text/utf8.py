"""UTF-8: Unicode's variable-length encoding, one to four bytes per code point, written out bit by bit.

The encoding (RFC 3629, Unicode §3.9) spreads a code point's bits over a lead byte and continuation bytes:

    U+0000..U+007F      0xxxxxxx                              ASCII, unchanged
    U+0080..U+07FF      110xxxxx 10xxxxxx
    U+0800..U+FFFF      1110xxxx 10xxxxxx 10xxxxxx            (minus the surrogates U+D800..U+DFFF)
    U+10000..U+10FFFF   11110xxx 10xxxxxx 10xxxxxx 10xxxxxx

    >>> encode_utf8("é👍").hex(" ")
    'c3 a9 f0 9f 91 8d'

Decoding has to refuse what the encoder never writes: a continuation byte where a lead byte should be, a
sequence cut short, an overlong form (0xC0 0xAF for "/", a classic filter bypass), an encoded surrogate,
anything above U+10FFFF. Unicode's table 3-7 of well-formed sequences does all of this by giving each lead
byte the allowed range of its second byte (0xE0 needs 0xA0..0xBF, 0xED needs 0x80..0x9F, 0xF0 needs
0x90..0xBF, 0xF4 needs 0x80..0x8F), so that is the table below.

Each invalid stretch becomes one U+FFFD REPLACEMENT CHARACTER per "maximal subpart" (Unicode §3.9, the WHATWG
Encoding Standard, and what Python's `bytes.decode("utf-8", "replace")` does): the longest prefix of a
well-formed sequence that was seen before the bytes went wrong, or one byte if it could start nothing. Every
invalid stretch is also reported with its byte offset and the reason, which is what a validator is for:

    >>> decode_utf8(b"a\\xffb\\xe4\\xb8").invalid[0].reason
    'invalid byte 0xFF: never used in UTF-8'
"""

import re
from dataclasses import dataclass
from typing import Literal

from glossa.errors import GlossaError
from glossa.text.codepoints import SURROGATES, require_scalar_value

REPLACEMENT_CHARACTER = "\ufffd"
ASCII_RUN = re.compile(rb"[\x00-\x7f]+")


@dataclass(frozen=True)
class LeadByte:
    """What a lead byte promises: the sequence length and the range its second byte must fall in."""

    length: int
    second_low: int
    second_high: int
    second_out_of_range: str  # why a continuation byte outside that range is invalid


def _lead_bytes() -> dict[int, LeadByte]:
    continuation = (0x80, 0xBF)
    table = {lead: LeadByte(2, *continuation, "") for lead in range(0xC2, 0xE0)}
    table |= {lead: LeadByte(3, *continuation, "") for lead in range(0xE1, 0xF0)}
    table |= {lead: LeadByte(4, *continuation, "") for lead in range(0xF1, 0xF4)}
    table[0xE0] = LeadByte(3, 0xA0, 0xBF, "overlong encoding: a code point below U+0800 in three bytes")
    table[0xED] = LeadByte(3, 0x80, 0x9F, "surrogate: U+D800..U+DFFF is not a character UTF-8 may encode")
    table[0xF0] = LeadByte(4, 0x90, 0xBF, "overlong encoding: a code point below U+10000 in four bytes")
    table[0xF4] = LeadByte(4, 0x80, 0x8F, "above U+10FFFF: past the last Unicode code point")
    return table


LEAD_BYTES = _lead_bytes()


def invalid_lead_reason(byte: int) -> str:
    """Why a byte cannot start a sequence (every byte >= 0x80 that is not in LEAD_BYTES)."""
    if byte <= 0xBF:
        return f"unexpected continuation byte 0x{byte:02X}: no lead byte before it"
    if byte <= 0xC1:
        return f"overlong encoding: lead byte 0x{byte:02X} can only encode U+0000..U+007F in two bytes"
    if byte <= 0xFD:
        return f"above U+10FFFF: lead byte 0x{byte:02X} starts a code point past the last one"
    return f"invalid byte 0x{byte:02X}: never used in UTF-8"


class InvalidUtf8Error(GlossaError, ValueError):
    """Bytes that are not UTF-8, raised by `decode_utf8(..., errors="strict")`."""

    def __init__(self, sequence: "InvalidSequence") -> None:
        super().__init__(f"invalid UTF-8 at byte {sequence.offset}: {sequence.reason}")
        self.sequence = sequence


@dataclass(frozen=True)
class InvalidSequence:
    """One maximal subpart of ill-formed input, replaced by one U+FFFD."""

    offset: int
    raw: bytes
    reason: str


@dataclass(frozen=True)
class DecodedText:
    """Decoded text (with U+FFFD where the input was invalid) and the list of what was invalid."""

    text: str
    invalid: tuple[InvalidSequence, ...]

    @property
    def is_valid(self) -> bool:
        return not self.invalid


def encode_code_point(code_point: int) -> bytes:
    """The UTF-8 bytes of one Unicode scalar value (a code point that is not a surrogate)."""
    if code_point < 0x80:
        return bytes((code_point,))
    if code_point < 0x800:
        return bytes((0xC0 | code_point >> 6, 0x80 | code_point & 0x3F))
    if code_point < 0x10000:
        return bytes((0xE0 | code_point >> 12, 0x80 | code_point >> 6 & 0x3F, 0x80 | code_point & 0x3F))
    return bytes(
        (
            0xF0 | code_point >> 18,
            0x80 | code_point >> 12 & 0x3F,
            0x80 | code_point >> 6 & 0x3F,
            0x80 | code_point & 0x3F,
        )
    )


def encode_utf8(text: str, errors: Literal["strict", "surrogateescape"] = "strict") -> bytes:
    """Encode `text` as UTF-8; a lone surrogate raises `UnencodableError`.

    `errors="surrogateescape"` turns U+DC80..U+DCFF back into the bytes 0x80..0xFF they stand for: that is how
    Python hands over command-line arguments and file names that were not valid UTF-8.
    """
    out = bytearray()
    for index, char in enumerate(text):
        code_point = ord(char)
        if code_point < 0x80:
            out.append(code_point)
        elif code_point in SURROGATES:
            if errors == "surrogateescape" and 0xDC80 <= code_point <= 0xDCFF:
                out.append(code_point - 0xDC00)
            else:
                require_scalar_value(code_point, index, "UTF-8")
        else:
            out += encode_code_point(code_point)
    return bytes(out)


def _read_sequence(data: bytes, start: int, lead: LeadByte) -> tuple[int, int, str]:
    """Read the sequence a valid lead byte at `start` begins: (code point or -1, bytes consumed, reason)."""
    code_point = data[start] & (0x7F >> lead.length)
    for position in range(start + 1, start + lead.length):
        read = position - start
        if position == len(data):
            return -1, read, f"truncated sequence: input ends after {read} of {lead.length} bytes"
        byte = data[position]
        if not 0x80 <= byte <= 0xBF:
            return -1, read, f"truncated sequence: byte 0x{byte:02X} at {position} is not a continuation"
        if position == start + 1 and not lead.second_low <= byte <= lead.second_high:
            return -1, 1, lead.second_out_of_range
        code_point = code_point << 6 | byte & 0x3F
    return code_point, lead.length, ""


def decode_utf8(data: bytes, errors: Literal["replace", "strict"] = "replace") -> DecodedText:
    """Decode UTF-8, replacing each maximal invalid subpart with U+FFFD and reporting it.

    `errors="strict"` raises `InvalidUtf8Error` at the first invalid sequence instead.
    """
    pieces: list[str] = []
    invalid: list[InvalidSequence] = []
    position = 0
    while position < len(data):
        byte = data[position]
        if byte < 0x80:
            # Bytes 0-127 are code points 0-127, the one range where bytes and code points agree: copy them.
            run = ASCII_RUN.match(data, position)
            assert run is not None
            pieces.append(run.group().decode("ascii"))
            position = run.end()
            continue
        lead = LEAD_BYTES.get(byte)
        if lead is None:
            code_point, consumed, reason = -1, 1, invalid_lead_reason(byte)
        else:
            code_point, consumed, reason = _read_sequence(data, position, lead)
        if code_point < 0:
            sequence = InvalidSequence(position, bytes(data[position : position + consumed]), reason)
            if errors == "strict":
                raise InvalidUtf8Error(sequence)
            invalid.append(sequence)
            pieces.append(REPLACEMENT_CHARACTER)
        else:
            pieces.append(chr(code_point))
        position += consumed
    return DecodedText("".join(pieces), tuple(invalid))


def validate_utf8(data: bytes) -> tuple[InvalidSequence, ...]:
    """Every invalid sequence in `data`, with its byte offset and reason; empty when `data` is valid UTF-8."""
    return decode_utf8(data).invalid

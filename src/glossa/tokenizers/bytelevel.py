"""GPT-2's byte-to-unicode table: every one of the 256 byte values as one printable character.

Byte-level BPE works on UTF-8 bytes, but its vocabulary and merges files are text, and a merges line like
"Ġ t" must not contain raw spaces, newlines or invalid UTF-8. GPT-2 (openai/gpt-2 encoder.py) solved this
with a fixed bijection: the 188 bytes that are already printable Latin-1 characters ('!'..'~', '¡'..'¬',
'®'..'ÿ') stand for themselves, and the other 68 (controls, space, DEL, NBSP, soft hyphen) are moved, in byte
order, to U+0100 onwards. So the space 0x20 is 'Ġ' (U+0120), the newline 0x0A is 'Ċ' (U+010A):

    >>> to_byte_level("hé\\n")
    'hÃ©Ċ'
    >>> from_byte_level('hÃ©Ċ')
    b'h\\xc3\\xa9\\n'

Every byte-level tokenizer in this family (GPT-2, RoBERTa, Llama-3, SmolLM2, Qwen) stores its vocabulary in
this alphabet; HF `tokenizers` calls it `ByteLevel.alphabet()`.

The conversions use `str.translate` over the bytes read as Latin-1 (byte b is then the character chr(b)),
so a whole piece converts in one C call instead of a Python loop over its bytes.
"""

from __future__ import annotations

from functools import cache


@cache
def bytes_to_unicode() -> dict[int, str]:
    """The GPT-2 table: byte value -> the character that stands for it."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {byte: chr(byte) for byte in printable}
    moved = 0
    for byte in range(256):
        if byte not in table:
            table[byte] = chr(256 + moved)
            moved += 1
    return dict(sorted(table.items()))


@cache
def unicode_to_bytes() -> dict[str, int]:
    """The inverse table: character -> byte value."""
    return {char: byte for byte, char in bytes_to_unicode().items()}


_LATIN1_TO_BYTE_LEVEL = {byte: char for byte, char in bytes_to_unicode().items()}
_BYTE_LEVEL_TO_LATIN1 = {ord(char): byte for byte, char in bytes_to_unicode().items()}


def bytes_to_byte_level(data: bytes) -> str:
    """Raw bytes -> their byte-level string (one character per byte)."""
    return data.decode("latin-1").translate(_LATIN1_TO_BYTE_LEVEL)


def to_byte_level(text: str) -> str:
    """Text -> the byte-level string of its UTF-8 bytes."""
    return text.encode("utf-8").decode("latin-1").translate(_LATIN1_TO_BYTE_LEVEL)


def is_byte_level(token: str) -> bool:
    """True when every character of `token` is in the byte-level alphabet."""
    table = unicode_to_bytes()
    return all(char in table for char in token)


def from_byte_level(token: str) -> bytes:
    """A byte-level string -> the bytes it stands for. Characters outside the alphabet (which real
    vocabularies sometimes hold, e.g. an added token stored as plain text) stand for their own UTF-8 bytes."""
    if is_byte_level(token):
        return token.translate(_BYTE_LEVEL_TO_LATIN1).encode("latin-1")
    table = unicode_to_bytes()
    return b"".join(bytes([table[char]]) if char in table else char.encode("utf-8") for char in token)

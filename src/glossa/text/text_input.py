"""Text input: where every run of glossa starts, turning bytes from a file or the command line into text.

Models read text, but files and terminals hand over bytes, and the bytes are UTF-8 only if someone made them
so. This is the step that decides: the bytes are read (up to an explicit limit), decoded with our own UTF-8
decoder, and anything that is not UTF-8 is replaced by U+FFFD and listed with its byte offset, so the caller
can report it, refuse it (`strict`), or carry on knowing exactly what was lost.

A command-line argument is already a `str`, but on POSIX Python smuggles bytes that were not UTF-8 into it as
lone surrogates U+DC80..U+DCFF ("surrogateescape"); those are turned back into their bytes and decoded like a
file, so `glossa text $'\\xff'` reports byte 0xFF instead of crashing on a surrogate.

    >>> text_from_argument("h\\udcffi").invalid[0].offset
    1
"""

import sys
from dataclasses import dataclass
from typing import Literal

from glossa.errors import GlossaError
from glossa.text.codepoints import has_surrogates, one_line
from glossa.text.counts import count_utf8_bytes
from glossa.text.utf8 import InvalidSequence, decode_utf8, encode_utf8

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
STDIN = "-"


@dataclass(frozen=True)
class TextInput:
    """Decoded text (U+FFFD where the input was not UTF-8), where it came from, and what was invalid."""

    kind: Literal["file", "stdin", "argument"]
    path: str | None  # for a file
    text: str
    byte_count: int  # bytes of input, before decoding
    invalid: tuple[InvalidSequence, ...]

    @property
    def is_valid_utf8(self) -> bool:
        return not self.invalid

    @property
    def label(self) -> str:
        """Where the text came from, in words fit for a one-line message."""
        if self.path is not None:
            return one_line(self.path)
        return "stdin" if self.kind == "stdin" else "the argument"


def read_bytes(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a file (stdin for "-"), refusing more than `max_bytes`; every failure is a GlossaError."""
    if max_bytes < 1:
        raise GlossaError(f"the byte limit must be at least 1, not {max_bytes}")
    shown = one_line(path)
    try:
        if path == STDIN:
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            # Read at most one byte past the limit, so /dev/zero or a growing log cannot exhaust memory.
            with open(path, "rb") as file:
                data = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise GlossaError(f"no such file: {shown}") from None
    except IsADirectoryError:
        raise GlossaError(f"{shown} is a directory; give the path of a text file") from None
    except PermissionError:
        raise GlossaError(f"cannot read {shown}: permission denied") from None
    except OSError as error:
        raise GlossaError(f"cannot read {shown}: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise GlossaError(f"{shown} is larger than the {max_bytes:,}-byte limit; raise it with --max-bytes")
    return data


def read_text_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> TextInput:
    """Read a file (stdin for "-") and decode it as UTF-8, reporting rather than raising on invalid bytes."""
    data = read_bytes(path, max_bytes)
    decoded = decode_utf8(data)
    if path == STDIN:
        return TextInput("stdin", None, decoded.text, len(data), decoded.invalid)
    return TextInput("file", path, decoded.text, len(data), decoded.invalid)


def text_from_argument(argument: str) -> TextInput:
    """A command-line argument as text; bytes smuggled in as surrogates are decoded like a file's."""
    if not has_surrogates(argument):
        return TextInput("argument", None, argument, count_utf8_bytes(argument), ())
    data = encode_utf8(argument, errors="surrogateescape")
    decoded = decode_utf8(data)
    return TextInput("argument", None, decoded.text, len(data), decoded.invalid)

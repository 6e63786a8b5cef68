"""Text representation and encoding (glossary §2): characters, Unicode code points, ASCII, UTF-8/16/32.

The step before tokenization. Text is a sequence of user-perceived characters (grapheme clusters), each one or
more Unicode code points, each code point one to four bytes in UTF-8. Every encoder and the UTF-8 decoder here
is written out by hand (bit shifts, surrogate pairs, the table of well-formed UTF-8) and tested against
Python's codecs, which serve only as the oracle.

    codepoints   names, general categories, safe display of one code point
    ascii        ASCII and the 8-bit "extended ASCII" encodings (Latin-1, Windows-1252)
    utf8         UTF-8 encoder, decoder and validator (invalid bytes reported by offset and reason)
    utf16        UTF-16 encoder and surrogate pairs
    utf32        UTF-32 encoder
    graphemes    user-perceived characters (UAX #29 extended grapheme clusters)
    counts       the lengths of a text in every unit, fast enough for megabytes
    text_input   bytes from a file or the command line, decoded and checked
    report       one row per code point, for `glossa text`
"""

from glossa.text.counts import TextCounts, count_units, utf8_length_histogram
from glossa.text.graphemes import count_graphemes, split_graphemes
from glossa.text.text_input import TextInput, read_text_file, text_from_argument
from glossa.text.utf8 import DecodedText, InvalidSequence, decode_utf8, encode_utf8, validate_utf8
from glossa.text.utf16 import encode_utf16
from glossa.text.utf32 import encode_utf32

__all__ = [
    "DecodedText",
    "InvalidSequence",
    "TextCounts",
    "TextInput",
    "count_graphemes",
    "count_units",
    "decode_utf8",
    "encode_utf8",
    "encode_utf16",
    "encode_utf32",
    "read_text_file",
    "split_graphemes",
    "text_from_argument",
    "utf8_length_histogram",
    "validate_utf8",
]

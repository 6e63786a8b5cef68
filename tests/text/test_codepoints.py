"""Names, categories and safe display of code points; ASCII, Latin-1 and Windows-1252 against the codecs."""

import unicodedata

import pytest

from glossa.errors import GlossaError
from glossa.text.ascii import describe_eight_bit, eight_bit_status, windows_1252_code_point
from glossa.text.codepoints import (
    BIDI_CONTROLS,
    DOTTED_CIRCLE,
    GENERAL_CATEGORIES,
    describe_code_point,
    one_line,
    printable,
    shown,
)

SAMPLED_CODE_POINTS = [*range(0x10000), *range(0x10000, 0x110000, 97), 0x10FFFF, 0xE0001, 0x1F44D]


@pytest.mark.parametrize(
    ("code_point", "name", "category"),
    [
        (0x41, "LATIN CAPITAL LETTER A", "Lu"),
        (0xE9, "LATIN SMALL LETTER E WITH ACUTE", "Ll"),
        (0x4E2D, "CJK UNIFIED IDEOGRAPH-4E2D", "Lo"),
        (0xD55C, "HANGUL SYLLABLE HAN", "Lo"),
        (0x301, "COMBINING ACUTE ACCENT", "Mn"),
        (0x200D, "ZERO WIDTH JOINER", "Cf"),
        (0x1F44D, "THUMBS UP SIGN", "So"),
        (0x0A, "<control-000A> LINE FEED (LF)", "Cc"),
        (0x00, "<control-0000> NULL (NUL)", "Cc"),
        (0x7F, "<control-007F> DELETE (DEL)", "Cc"),
        (0x85, "<control-0085>", "Cc"),
        (0xD800, "<surrogate-D800>", "Cs"),
        (0xE000, "<private-use-E000>", "Co"),
        (0xFFFF, "<noncharacter-FFFF>", "Cn"),
        (0xFDD0, "<noncharacter-FDD0>", "Cn"),
        (0x0378, "<reserved-0378>", "Cn"),
    ],
)
def test_names_and_categories(code_point: int, name: str, category: str) -> None:
    info = describe_code_point(code_point)
    assert (info.name, info.category) == (name, category)
    assert info.category_meaning == GENERAL_CATEGORIES[category]


def test_labels() -> None:
    assert describe_code_point(0x41).label == "U+0041"
    assert describe_code_point(0x1F44D).label == "U+1F44D"
    assert describe_code_point(0x10FFFF).label == "U+10FFFF"


def test_every_code_point_has_a_name_category_and_safe_display() -> None:
    for code_point in SAMPLED_CODE_POINTS:
        info = describe_code_point(code_point)
        assert info.name and info.category in GENERAL_CATEGORIES
        assert all(
            unicodedata.category(char) not in ("Cc", "Cs", "Zl", "Zp") and ord(char) not in BIDI_CONTROLS
            for char in info.shown
        ), info


def test_combining_marks_sit_on_a_dotted_circle() -> None:
    assert shown(0x301) == DOTTED_CIRCLE + "\u0301"
    assert shown(0x0A) == "\\n"
    assert shown(0x1B) == "\\x1b"
    assert shown(0x202E) == "\\u202e"
    assert shown(0x20) == "\u2420"
    assert shown(0x4E2D) == "中"


def test_printable_keeps_layout_and_one_line_does_not() -> None:
    text = "a\tb\nc\x1b[31m\u202eevil\x00"
    assert printable(text) == "a\tb\nc\\x1b[31m\\u202eevil\\x00"
    assert one_line(text) == "a\\tb\\nc\\x1b[31m\\u202eevil\\x00"


def test_out_of_range_is_a_user_error() -> None:
    with pytest.raises(GlossaError, match="U\\+10FFFF"):
        describe_code_point(0x110000)


def test_latin_1_and_windows_1252_bytes_match_python_codecs() -> None:
    for code_point in range(0x3000):
        status = eight_bit_status(code_point)
        for codec, byte in (("latin-1", status.latin_1_byte), ("cp1252", status.windows_1252_byte)):
            try:
                expected = chr(code_point).encode(codec)[0]
            except UnicodeEncodeError:
                expected = None
            assert byte == expected, (codec, hex(code_point))
        assert status.is_ascii == (code_point < 128)


def test_windows_1252_table_matches_python() -> None:
    for byte in range(256):
        try:
            expected = ord(bytes((byte,)).decode("cp1252"))
        except UnicodeDecodeError:
            expected = None
        assert windows_1252_code_point(byte) == expected, hex(byte)


@pytest.mark.parametrize(
    ("code_point", "description"),
    [
        (0x41, "ASCII 65"),
        (0xE9, "Latin-1 (ISO-8859-1) 0xE9; Windows-1252 0xE9"),
        (0x85, "Latin-1 (ISO-8859-1) 0x85; not in Windows-1252 (0x85 there: U+2026 …)"),
        (0x81, "Latin-1 (ISO-8859-1) 0x81; not in Windows-1252 (0x81 there: undefined)"),
        (0x20AC, "not ASCII; Windows-1252 0x80"),
        (0x4E2D, "not ASCII"),
    ],
)
def test_eight_bit_descriptions(code_point: int, description: str) -> None:
    assert describe_eight_bit(code_point) == description

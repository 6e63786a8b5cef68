"""Our UTF-8, UTF-16 and UTF-32 encoders against Python's codecs, on hard texts and under hypothesis."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.text.codepoints import UnencodableError
from glossa.text.utf8 import encode_code_point, encode_utf8
from glossa.text.utf16 import encode_utf16, utf16_code_units
from glossa.text.utf32 import encode_utf32

HARD_TEXTS = {
    "empty": "",
    "ascii": "Hello, world! ~ 0123456789",
    "latin-1": "café naïve Straße ¿½ÿ",
    "cjk": "中文字符 日本語のテキスト",
    "arabic": "مرحبا بالعالم",
    "hindi": "नमस्ते दुनिया",
    "hangul": "한국어 텍스트",
    "hangul-jamo": "\u1112\u1161\u11ab",
    "emoji-zwj": "👩‍👩‍👧 👨‍💻 🏳️‍🌈",
    "skin-tones": "👍🏽 👋🏿",
    "flags": "🇫🇷🇯🇵🇺🇸",
    "combining": "e\u0301 a\u0308 Z\u0335\u0336",
    "nul": "\x00",
    "controls": "\t\n\r\x1b\x7f\x85",
    "bmp-edges": "\u007f\u0080\u07ff\u0800\ud7ff\ue000\ufffd\uffff",
    "supplementary-edges": "\U00010000\U0010ffff",
}
SCALAR_TEXT = st.text(st.characters(exclude_categories=("Cs",)))


@pytest.mark.parametrize("text", HARD_TEXTS.values(), ids=HARD_TEXTS.keys())
def test_encoders_match_python_on_hard_texts(text: str) -> None:
    assert encode_utf8(text) == text.encode("utf-8")
    assert encode_utf16(text) == text.encode("utf-16-be")
    assert encode_utf16(text, byte_order="little") == text.encode("utf-16-le")
    assert encode_utf32(text) == text.encode("utf-32-be")
    assert encode_utf32(text, byte_order="little") == text.encode("utf-32-le")


@settings(deadline=None)
@given(SCALAR_TEXT)
def test_utf8_encoder_matches_python(text: str) -> None:
    assert encode_utf8(text) == text.encode("utf-8")


@settings(deadline=None)
@given(SCALAR_TEXT)
def test_utf16_encoder_matches_python(text: str) -> None:
    assert encode_utf16(text) == text.encode("utf-16-be")


@settings(deadline=None)
@given(SCALAR_TEXT)
def test_utf32_encoder_matches_python(text: str) -> None:
    assert encode_utf32(text) == text.encode("utf-32-be")


@pytest.mark.parametrize(
    "code_point", [0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF]
)
def test_length_boundaries(code_point: int) -> None:
    expected = chr(code_point).encode("utf-8")
    assert encode_code_point(code_point) == expected
    assert len(expected) == 1 + (code_point >= 0x80) + (code_point >= 0x800) + (code_point >= 0x10000)


def test_surrogate_pairs_are_visible_as_code_units() -> None:
    assert utf16_code_units(0x1F44D) == (0xD83D, 0xDC4D)
    assert utf16_code_units(0x10000) == (0xD800, 0xDC00)
    assert utf16_code_units(0x10FFFF) == (0xDBFF, 0xDFFF)
    assert utf16_code_units(0xFFFF) == (0xFFFF,)


@pytest.mark.parametrize("encode", [encode_utf8, encode_utf16, encode_utf32])
# The last is a surrogate pair inside a str: still two lone surrogates, not the code point they stand for.
@pytest.mark.parametrize("text", ["\ud800", "ab\udfff", "\ud83d\udc4d"])
def test_lone_surrogates_are_rejected_with_a_clear_error(encode, text: str) -> None:
    with pytest.raises(UnencodableError, match=r"lone surrogate U\+D[0-9A-F]{3} at index \d+ cannot be"):
        encode(text)
    with pytest.raises(UnicodeEncodeError):  # Python agrees that these cannot be encoded
        text.encode("utf-8")


@settings(deadline=None)
@given(SCALAR_TEXT, st.integers(0xD800, 0xDFFF), st.data())
def test_any_text_with_a_surrogate_is_rejected(text: str, surrogate: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(text)))
    with pytest.raises(UnencodableError, match=f"U\\+{surrogate:04X} at index {index} "):
        encode_utf8(text[:index] + chr(surrogate) + text[index:])


@settings(deadline=None)
@given(st.binary())
def test_surrogateescape_gives_back_the_original_bytes(data: bytes) -> None:
    smuggled = data.decode("utf-8", "surrogateescape")  # how Python hands over argv and file names
    assert encode_utf8(smuggled, errors="surrogateescape") == data

"""Our UTF-8 decoder and validator against `bytes.decode("utf-8")`: valid text, any bytes, every offset."""

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.errors import GlossaError
from glossa.text.utf8 import InvalidUtf8Error, decode_utf8, validate_utf8


def _record_python_errors(error: UnicodeDecodeError) -> tuple[str, int]:
    _python_errors.append((error.start, error.end))
    return "\ufffd", error.end


_python_errors: list[tuple[int, int]] = []
codecs.register_error("glossa-test-record", _record_python_errors)


def python_invalid_spans(data: bytes) -> list[tuple[int, int]]:
    """Every (start, end) Python's decoder replaces with one U+FFFD."""
    _python_errors.clear()
    data.decode("utf-8", "glossa-test-record")
    return list(_python_errors)


# Pieces that make invalid input interesting: boundaries, every kind of bad lead, cut-off and overlong forms.
FRAGMENTS = [
    b"a", b"\x00", b"\x7f", b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xef\xbf\xbf",
    b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xc2", b"\xe0",
    b"\xe0\x80",
    b"\xe0\xa0", b"\xed", b"\xed\xa0", b"\xed\xbf\xbf", b"\xf0", b"\xf0\x80", b"\xf0\x90", b"\xf0\x90\x80",
    b"\xf4", b"\xf4\x90", b"\xf5", b"\xf8", b"\xfc", b"\xfe", b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf",
]  # fmt: skip
UTF8_LIKE = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(b"".join)
ANY_BYTES = st.one_of(st.binary(), UTF8_LIKE)


@settings(deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",))))
def test_valid_text_round_trips(text: str) -> None:
    decoded = decode_utf8(text.encode("utf-8"))
    assert decoded.text == text
    assert decoded.is_valid
    assert decode_utf8(text.encode("utf-8"), errors="strict").text == text


@settings(deadline=None)
@given(ANY_BYTES)
def test_replacement_matches_python(data: bytes) -> None:
    assert decode_utf8(data).text == data.decode("utf-8", "replace")


@settings(deadline=None)
@given(ANY_BYTES)
def test_every_invalid_offset_and_length_matches_python(data: bytes) -> None:
    spans = [(sequence.offset, sequence.offset + len(sequence.raw)) for sequence in validate_utf8(data)]
    assert spans == python_invalid_spans(data)


@settings(deadline=None)
@given(ANY_BYTES)
def test_first_reported_offset_is_where_strict_python_raises(data: bytes) -> None:
    invalid = validate_utf8(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        assert invalid, "Python rejects these bytes, so must we"
        assert (invalid[0].offset, invalid[0].offset + len(invalid[0].raw)) == (error.start, error.end)
        with pytest.raises(InvalidUtf8Error) as raised:
            decode_utf8(data, errors="strict")
        assert raised.value.sequence == invalid[0]
    else:
        assert invalid == ()


def test_every_two_byte_input_matches_python() -> None:
    for first in range(256):
        for second in range(256):
            data = bytes((first, second))
            assert decode_utf8(data).text == data.decode("utf-8", "replace"), data


@pytest.mark.parametrize("lead", range(0xE0, 0x100))
def test_every_three_and_four_byte_prefix_matches_python(lead: int) -> None:
    for second in range(0x70, 0xD0):
        for tail in (b"", b"\x80", b"\xbf", b"\x80\x80", b"\xbf\xbf", b"A", b"\x80A"):
            data = bytes((lead, second)) + tail
            assert decode_utf8(data).text == data.decode("utf-8", "replace"), data


@pytest.mark.parametrize(
    ("data", "offset", "raw", "reason"),
    [
        (b"ab\x80", 2, b"\x80", "unexpected continuation byte 0x80"),
        (b"\xe4\xb8", 0, b"\xe4\xb8", "truncated sequence: input ends after 2 of 3 bytes"),
        (b"\xe4A", 0, b"\xe4", "truncated sequence: byte 0x41 at 1 is not a continuation"),
        (b"\xc0\xaf", 0, b"\xc0", "overlong encoding"),
        (b"\xe0\x80\xaf", 0, b"\xe0", "overlong encoding"),
        (b"\xf0\x8f\xbf\xbf", 0, b"\xf0", "overlong encoding"),
        (b"x\xed\xa0\x80", 1, b"\xed", "surrogate"),
        (b"\xf4\x90\x80\x80", 0, b"\xf4", "above U+10FFFF"),
        (b"\xf5\x80", 0, b"\xf5", "above U+10FFFF"),
        (b"\xff", 0, b"\xff", "invalid byte 0xFF"),
    ],
)
def test_reasons(data: bytes, offset: int, raw: bytes, reason: str) -> None:
    first = validate_utf8(data)[0]
    assert (first.offset, first.raw) == (offset, raw)
    assert first.reason.startswith(reason)


def test_strict_error_is_a_one_line_user_error() -> None:
    with pytest.raises(GlossaError) as raised:
        decode_utf8(b"ok\xffok", errors="strict")
    assert str(raised.value) == "invalid UTF-8 at byte 2: invalid byte 0xFF: never used in UTF-8"
    assert isinstance(raised.value, ValueError)

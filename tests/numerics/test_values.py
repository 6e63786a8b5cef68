"""Parsing VALUE: exact decimals, specials, raw hex bits, and one-line errors for everything else."""

import math
from fractions import Fraction

import pytest

from glossa.errors import GlossaError
from glossa.numerics.formats import resolve_format, valid_format_names
from glossa.numerics.values import parse_value


def test_numbers_are_exact() -> None:
    assert parse_value("0.1").exact == Fraction(1, 10)
    assert parse_value("1e-3").exact == Fraction(1, 1000)
    assert parse_value("-2.5E2").exact == -250
    assert parse_value(".5").exact == Fraction(1, 2)
    assert parse_value("1_000").exact == 1000
    negative_zero = parse_value("-0.0")
    assert negative_zero.negative_zero and math.copysign(1, negative_zero.as_float) < 0


def test_specials_and_hex() -> None:
    assert parse_value("inf").special == math.inf
    assert parse_value("-inf").special == -math.inf
    assert math.isnan(parse_value("NaN").special)
    assert parse_value("0x3c00").pattern == 0x3C00
    assert parse_value("0X3C00").pattern == 0x3C00


@pytest.mark.parametrize("text", ["abc", "", "1.2.3", "0x", "-0x3c00", "1e99999", "1" * 2000, "0xg1", "3/4"])
def test_bad_values_are_one_line_errors(text: str) -> None:
    with pytest.raises(GlossaError) as error:
        parse_value(text)
    assert "\n" not in str(error.value)


def test_formats_and_aliases() -> None:
    assert resolve_format("e4m3").name == "fp8-e4m3"
    assert resolve_format("E5M2").name == "fp8-e5m2"
    assert resolve_format("bfloat16").name == "bf16"
    assert resolve_format("q16.16").name == "q16.16"
    with pytest.raises(GlossaError, match=r"fp7.*fp32, fp16, bf16, fp8-e4m3, fp8-e5m2, int8"):
        resolve_format("fp7")
    assert "nf4" in valid_format_names()

"""Two's complement, round half to even, saturation and Q-format fixed point, checked against numpy."""

from fractions import Fraction

import numpy as np
import pytest

from glossa.errors import GlossaError
from glossa.numerics.fixed import decode_fixed, encode_fixed, fixed_range
from glossa.numerics.formats import INT_FORMATS, FixedFormat, resolve_format
from glossa.numerics.integers import encode_int, from_twos_complement, round_half_even, to_twos_complement

NUMPY_TYPES = {
    8: (np.int8, np.uint8),
    16: (np.int16, np.uint16),
    32: (np.int32, np.uint32),
    64: (np.int64, np.uint64),
}


@pytest.mark.parametrize("bits", [8, 16, 32, 64])
def test_twos_complement_matches_numpy_view(bits: int) -> None:
    signed, unsigned = NUMPY_TYPES[bits]
    info = np.iinfo(signed)
    rng = np.random.default_rng(bits)
    values = [int(v) for v in rng.integers(info.min, info.max, 2000, dtype=signed, endpoint=True)]
    values += [info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max]
    theirs = np.array(values, dtype=signed).view(unsigned)
    for value, pattern in zip(values, theirs, strict=True):
        assert to_twos_complement(value, bits) == int(pattern)
        assert from_twos_complement(int(pattern), bits) == value


def test_int_range_is_numpy_iinfo() -> None:
    for bits, (signed, _) in NUMPY_TYPES.items():
        fmt = INT_FORMATS[f"int{bits}"]
        assert (fmt.min_value, fmt.max_value) == (np.iinfo(signed).min, np.iinfo(signed).max)


def test_round_half_even_matches_numpy_rint() -> None:
    halves = [Fraction(k, 2) for k in range(-41, 42)]
    quarters = [Fraction(k, 4) for k in range(-41, 42)]
    for value in halves + quarters:
        assert round_half_even(value) == int(np.rint(float(value)))
    assert [round_half_even(Fraction(v)) for v in ("0.5", "1.5", "2.5", "-0.5", "-1.5")] == [0, 2, 2, 0, -2]


def test_out_of_range_is_an_error_unless_saturating() -> None:
    int8 = INT_FORMATS["int8"]
    with pytest.raises(GlossaError, match=r"does not fit in int8 \(range -128..127\).*--saturate"):
        encode_int(Fraction(10**9), int8)
    high = encode_int(Fraction(10**9), int8, saturate=True)
    low = encode_int(Fraction(-129), int8, saturate=True)
    assert (high.stored, high.pattern, high.saturated) == (127, 0x7F, True)
    assert (low.stored, low.pattern) == (-128, 0x80)
    assert encode_int(Fraction(-128), int8).pattern == 0x80
    assert encode_int(Fraction(2.5), int8).stored == 2
    rounds_to_128 = Fraction("127.5")  # a tie: to even, 128, which is then clamped
    assert encode_int(rounds_to_128, int8, saturate=True).stored == 127


def test_q8_8_matches_numpy_fixed_point() -> None:
    q8_8 = resolve_format("q8.8")
    assert isinstance(q8_8, FixedFormat) and q8_8.total_bits == 16
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.uniform(-128, 127.99, 2000), [0.0, 1.5, -1.0, -128.0, 127.99609375, 1 / 512, 3 / 512]]
    )
    theirs = np.rint(values * 256).astype(np.int16).view(np.uint16)
    for value, pattern in zip(values, theirs, strict=True):
        encoded = encode_fixed(Fraction(value), q8_8)
        assert encoded.integer.pattern == int(pattern)
        assert decode_fixed(int(pattern), q8_8) == encoded.stored
    assert encode_fixed(Fraction("1.5"), q8_8).integer.pattern == 0x0180
    assert fixed_range(q8_8) == (Fraction(-128), Fraction(128) - Fraction(1, 256))
    with pytest.raises(GlossaError, match="does not fit"):
        encode_fixed(Fraction(200), q8_8)


def test_bad_fixed_formats_are_errors() -> None:
    for name in ("q0.8", "q40.40"):
        with pytest.raises(GlossaError):
            resolve_format(name)

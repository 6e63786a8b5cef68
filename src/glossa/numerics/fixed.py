"""Q-format fixed point: a real number stored as an integer count of 2^-N.

q8.8 keeps 8 integer bits (sign included) and 8 fraction bits in an int16: 1.5 is stored as 384 = 0x0180,
the resolution is 1/256 everywhere and the range is [-128, 128 - 1/256]. Unlike a float, the step never
changes with magnitude; that is why DSPs and some integer-only inference kernels use it (an int8 × int8
product with a scale is the same idea). Rounding and overflow follow integers.py.
"""

from dataclasses import dataclass
from fractions import Fraction

from glossa.numerics.formats import FixedFormat
from glossa.numerics.integers import IntEncoding, encode_int, from_twos_complement


@dataclass(frozen=True)
class FixedEncoding:
    integer: IntEncoding  # the underlying count of 2^-N and its two's complement bits
    stored: Fraction  # the value it represents


def encode_fixed(value: Fraction, fmt: FixedFormat, *, saturate: bool = False) -> FixedEncoding:
    scaled = value * (1 << fmt.fraction_bits)
    integer = encode_int(scaled, fmt.as_integer, saturate=saturate, what=f"{float(value):g} (as {fmt.name})")
    return FixedEncoding(integer, Fraction(integer.stored, 1 << fmt.fraction_bits))


def decode_fixed(pattern: int, fmt: FixedFormat) -> Fraction:
    return Fraction(from_twos_complement(pattern, fmt.total_bits), 1 << fmt.fraction_bits)


def fixed_range(fmt: FixedFormat) -> tuple[Fraction, Fraction]:
    scale = 1 << fmt.fraction_bits
    return Fraction(fmt.as_integer.min_value, scale), Fraction(fmt.as_integer.max_value, scale)

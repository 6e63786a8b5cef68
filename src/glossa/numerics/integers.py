"""Integers as bits: two's complement, round half to even, and what to do when a value does not fit.

Two's complement stores an n-bit signed integer v as the unsigned number v mod 2^n, so the top bit weighs
-2^(n-1) instead of +2^(n-1): -1 is all ones, and adding works the same for signed and unsigned values.
Non-integers round half to even (2.5 → 2, 3.5 → 4), the same rule as the float formats, so rounding errors
do not drift upward on average. A value outside [-2^(n-1), 2^(n-1) - 1] is an error unless the caller asks
to saturate (clamp to the nearest end), because silently wrapping 200 into int8 as -56 is how bugs hide.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from glossa.errors import GlossaError
from glossa.numerics.formats import IntFormat


def round_half_even(value: Fraction) -> int:
    """The nearest integer; exact halves go to the even neighbour."""
    floor = math.floor(value)
    remainder = value - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def to_twos_complement(value: int, bits: int) -> int:
    """The n-bit pattern (as an unsigned int) that stores the signed integer `value`."""
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise ValueError(f"{value} does not fit in {bits}-bit two's complement")
    return value & ((1 << bits) - 1)


def from_twos_complement(pattern: int, bits: int) -> int:
    """The signed integer an n-bit pattern stores: the top bit counts as -2^(n-1)."""
    if not 0 <= pattern < (1 << bits):
        raise ValueError(f"pattern {pattern:#x} is wider than {bits} bits")
    return pattern - (1 << bits) if pattern >> (bits - 1) else pattern


@dataclass(frozen=True)
class IntEncoding:
    rounded: int  # the value rounded half to even, before any clamping
    stored: int  # what the integer actually holds
    pattern: int  # its two's complement bits
    saturated: bool


def encode_int(
    value: Fraction, fmt: IntFormat, *, saturate: bool = False, what: str | None = None
) -> IntEncoding:
    """Round `value` half to even and store it in `fmt`; out of range is an error unless `saturate`."""
    rounded = round_half_even(value)
    stored = min(max(rounded, fmt.min_value), fmt.max_value)
    if stored != rounded and not saturate:
        shown = what or f"{rounded}"
        raise GlossaError(
            f"{shown} does not fit in {fmt.name} (range {fmt.min_value}..{fmt.max_value}): "
            "use a wider type or pass --saturate to clamp"
        )
    return IntEncoding(rounded, stored, to_twos_complement(stored, fmt.bits), stored != rounded)

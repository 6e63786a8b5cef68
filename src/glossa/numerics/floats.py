"""Encode and decode floating-point formats bit by bit: fp32, fp16, bf16, fp8 e4m3 and e5m2.

The encoder works on float64 inputs with integer arithmetic only, vectorised over numpy arrays:

1. split each float64 into sign, exponent and the 53-bit integer significand (value = sig × 2^(e - 52));
2. pick the target exponent: the value's own exponent, or the format's minimum when the value is subnormal
   there, so one shift covers normals and subnormals alike;
3. shift the significand right to the target precision and round to nearest, ties to even, by looking at
   the bits shifted out (more than half: up; exactly half: up only if the kept part is odd);
4. add the biased exponent. A carry out of the mantissa lands in the exponent field by itself, which is
   why rounding 0x3bff + ½ulp up gives 0x3c00, and a subnormal rounding up becomes the min normal;
5. apply the format's edge rules: overflow to inf (IEEE) or saturate to max (e4m3fn, as torch does);
   NaN becomes the canonical NaN with the input's sign.

Every format here sits well inside float64's range, so a float64 input is rounded exactly once. A decimal
the user types is first turned into float64 with round-to-odd (`float64_round_to_odd`), which makes the
two roundings in a row give the same answer as one correct rounding of the decimal.
"""

import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from glossa.numerics.formats import FloatFormat

FloatClass = Literal["zero", "subnormal", "normal", "inf", "nan"]

_FLOAT64_MANTISSA_BITS = 52
_FLOAT64_BIAS = 1023


def encode_floats(values: ArrayLike, fmt: FloatFormat) -> np.ndarray:
    """float64 values → bit patterns of `fmt` (as int64), rounding to nearest, ties to even."""
    x = np.ascontiguousarray(values, dtype=np.float64)
    raw = x.view(np.int64)
    negative = raw < 0
    exponent_field = (raw >> _FLOAT64_MANTISSA_BITS) & 0x7FF
    fraction = raw & ((1 << _FLOAT64_MANTISSA_BITS) - 1)
    is_special = exponent_field == 0x7FF
    is_nan = is_special & (fraction != 0)
    is_inf = is_special & (fraction == 0)

    is_normal64 = exponent_field > 0
    significand = np.where(is_normal64, fraction | (1 << _FLOAT64_MANTISSA_BITS), fraction)
    exponent = np.where(is_normal64, exponent_field - _FLOAT64_BIAS, 1 - _FLOAT64_BIAS)

    precision = fmt.mantissa_bits
    target_exponent = np.maximum(exponent, fmt.min_exponent)
    # Always ≥ 52 - precision > 0; past 60 every significand bit is shifted out, so clamp to keep int64 happy.
    shift = np.minimum(target_exponent - precision - (exponent - _FLOAT64_MANTISSA_BITS), 60)
    kept = significand >> shift
    dropped = significand & ((np.int64(1) << shift) - 1)
    half = np.int64(1) << (shift - 1)
    round_up = (dropped > half) | ((dropped == half) & ((kept & 1) == 1))
    rounded = kept + round_up

    magnitude = ((target_exponent + fmt.bias - 1) << precision) + rounded
    if fmt.overflow == "inf":
        assert fmt.infinity_bits is not None
        magnitude = np.minimum(magnitude, fmt.infinity_bits)
        magnitude = np.where(is_inf, fmt.infinity_bits, magnitude)
    else:
        magnitude = np.minimum(magnitude, fmt.max_finite_bits)
        magnitude = np.where(is_inf, fmt.max_finite_bits, magnitude)
    magnitude = np.where(is_nan, fmt.nan_bits, magnitude)
    return np.where(negative, magnitude | (1 << (fmt.total_bits - 1)), magnitude).astype(np.int64)


def decode_floats(bits: ArrayLike, fmt: FloatFormat) -> np.ndarray:
    """Bit patterns of `fmt` → their exact values as float64 (every format here fits in float64)."""
    pattern = np.asarray(bits, dtype=np.int64)
    if np.any((pattern < 0) | (pattern >> fmt.total_bits != 0)):
        raise ValueError(f"bit patterns must fit in {fmt.total_bits} bits for {fmt.name}")
    precision = fmt.mantissa_bits
    negative = (pattern >> (fmt.total_bits - 1)) & 1 == 1
    exponent_field = (pattern >> precision) & ((1 << fmt.exponent_bits) - 1)
    mantissa = pattern & ((1 << precision) - 1)
    subnormal_value = np.ldexp(mantissa.astype(np.float64), fmt.min_exponent - precision)
    normal_value = np.ldexp(
        (mantissa + (1 << precision)).astype(np.float64),
        (exponent_field - fmt.bias - precision).astype(np.int32),
    )
    magnitude = np.where(exponent_field == 0, subnormal_value, normal_value)
    magnitude_bits = pattern & ((1 << (fmt.total_bits - 1)) - 1)
    if fmt.infinity_bits is not None:
        magnitude = np.where(magnitude_bits == fmt.infinity_bits, np.inf, magnitude)
    magnitude = np.where(is_nan_bits(pattern, fmt), np.nan, magnitude)
    return np.where(negative, -magnitude, magnitude)


def is_nan_bits(bits: ArrayLike, fmt: FloatFormat) -> np.ndarray:
    """Which patterns are NaN: all-ones exponent with a non-zero mantissa (IEEE), or all ones (fn)."""
    magnitude_bits = np.asarray(bits, dtype=np.int64) & ((1 << (fmt.total_bits - 1)) - 1)
    if fmt.infinity_bits is None:
        return magnitude_bits == fmt.nan_bits
    return magnitude_bits > fmt.infinity_bits


def float64_round_to_odd(exact: Fraction) -> float:
    """The float64 nearest `exact` toward zero, with its last bit forced to 1 when inexact ("round to odd").

    Rounding this float64 again to any format with at most 51 significand bits (ours have at most 24)
    gives the same result as rounding `exact` directly, so a decimal like 1.0000000596046447753906251
    (a hair above an fp32 tie) still rounds up.
    """
    try:
        nearest = float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf
    if Fraction(nearest) == exact:
        return nearest
    truncated = nearest if abs(Fraction(nearest)) < abs(exact) else math.nextafter(nearest, 0.0)
    if struct.unpack("<q", struct.pack("<d", truncated))[0] & 1:
        return truncated
    return math.nextafter(truncated, math.inf if exact > 0 else -math.inf)


def encode_float(value: float | Fraction, fmt: FloatFormat) -> int:
    """One value (a float, or an exact Fraction from user text) → its bit pattern in `fmt`."""
    as_float = float64_round_to_odd(value) if isinstance(value, Fraction) else float(value)
    return int(encode_floats(np.array([as_float]), fmt)[0])


def decode_float(bits: int, fmt: FloatFormat) -> float:
    return float(decode_floats(np.array([bits]), fmt)[0])


def round_trip(values: ArrayLike, fmt: FloatFormat) -> np.ndarray:
    """What storing `values` in `fmt` and reading them back gives: the cast, built from our encoder."""
    return decode_floats(encode_floats(values, fmt), fmt)


@dataclass(frozen=True)
class FloatFields:
    """One bit pattern taken apart into what each field means."""

    sign: int
    exponent_field: int
    mantissa_field: int
    kind: FloatClass
    unbiased_exponent: int | None  # None for zero, inf and NaN
    implicit_bit: int  # the leading significand bit the format does not store


def float_fields(bits: int, fmt: FloatFormat) -> FloatFields:
    sign = bits >> (fmt.total_bits - 1)
    exponent_field = (bits >> fmt.mantissa_bits) & ((1 << fmt.exponent_bits) - 1)
    mantissa_field = bits & ((1 << fmt.mantissa_bits) - 1)
    magnitude_bits = bits & ((1 << (fmt.total_bits - 1)) - 1)
    kind: FloatClass
    if bool(is_nan_bits(bits, fmt)):
        kind, unbiased, implicit = "nan", None, 0
    elif magnitude_bits == fmt.infinity_bits:
        kind, unbiased, implicit = "inf", None, 0
    elif exponent_field == 0:
        kind = "zero" if mantissa_field == 0 else "subnormal"
        unbiased, implicit = (None, 0) if kind == "zero" else (fmt.min_exponent, 0)
    else:
        kind, unbiased, implicit = "normal", exponent_field - fmt.bias, 1
    return FloatFields(sign, exponent_field, mantissa_field, kind, unbiased, implicit)

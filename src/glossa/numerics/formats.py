"""Number formats as data: how many bits, what each bit means, and what happens at the edges.

A floating format is fully described by four numbers (exponent bits, mantissa bits, bias, and whether the
all-ones exponent is reserved for inf/NaN) plus one rule for overflow; every derived quantity (max finite,
min normal, min subnormal, machine epsilon) is computed from them, never typed in. Integers are a
width; Q-format fixed point is a width split into integer and fraction bits; NF4 is a 16-entry code book
(nf4.py).

`resolve_format("e4m3")` turns what a user typed into one of these, or raises a GlossaError that lists the
valid names.
"""

import re
from dataclasses import dataclass
from typing import Literal

from glossa.errors import GlossaError

Overflow = Literal["inf", "saturate"]


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: value = (-1)^sign × 2^(exponent - bias) × 1.mantissa."""

    name: str
    description: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    has_infinity: bool  # IEEE style: the all-ones exponent means inf (mantissa 0) or NaN
    overflow: Overflow  # what a finite value past max (and an input inf) becomes
    overflow_note: str

    @property
    def total_bits(self) -> int:
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def min_exponent(self) -> int:
        """Unbiased exponent of the smallest normal number (also the scale of the subnormals)."""
        return 1 - self.bias

    @property
    def max_finite_bits(self) -> int:
        """The magnitude bits (sign bit clear) of the largest finite value."""
        exponent_ones = (1 << self.exponent_bits) - 1
        if self.has_infinity:
            return ((exponent_ones - 1) << self.mantissa_bits) | ((1 << self.mantissa_bits) - 1)
        # "fn" formats (e4m3fn): only S.1111.111 is NaN, so the top exponent still holds finite values.
        return (exponent_ones << self.mantissa_bits) | ((1 << self.mantissa_bits) - 2)

    @property
    def infinity_bits(self) -> int | None:
        if not self.has_infinity:
            return None
        return ((1 << self.exponent_bits) - 1) << self.mantissa_bits

    @property
    def nan_bits(self) -> int:
        """The canonical NaN this encoder writes: a quiet NaN (top mantissa bit set), or all ones for fn."""
        exponent_ones = ((1 << self.exponent_bits) - 1) << self.mantissa_bits
        if self.has_infinity:
            return exponent_ones | (1 << (self.mantissa_bits - 1))
        return exponent_ones | ((1 << self.mantissa_bits) - 1)

    @property
    def max_finite(self) -> float:
        exponent_field = self.max_finite_bits >> self.mantissa_bits
        mantissa = self.max_finite_bits & ((1 << self.mantissa_bits) - 1)
        return (1 + mantissa / (1 << self.mantissa_bits)) * 2.0 ** (exponent_field - self.bias)

    @property
    def min_normal(self) -> float:
        return 2.0**self.min_exponent

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.min_exponent - self.mantissa_bits)

    @property
    def epsilon(self) -> float:
        """Machine epsilon: the gap between 1.0 and the next representable number."""
        return 2.0**-self.mantissa_bits


@dataclass(frozen=True)
class IntFormat:
    """A signed two's complement integer of `bits` bits."""

    name: str
    bits: int

    @property
    def total_bits(self) -> int:
        return self.bits

    @property
    def min_value(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def max_value(self) -> int:
        return (1 << (self.bits - 1)) - 1


@dataclass(frozen=True)
class FixedFormat:
    """Signed Q-format fixed point, ARM convention: qM.N has M integer bits (sign included) and N fraction
    bits, stored as an (M+N)-bit two's complement integer that counts units of 2^-N."""

    integer_bits: int
    fraction_bits: int

    @property
    def name(self) -> str:
        return f"q{self.integer_bits}.{self.fraction_bits}"

    @property
    def total_bits(self) -> int:
        return self.integer_bits + self.fraction_bits

    @property
    def as_integer(self) -> IntFormat:
        return IntFormat(f"int{self.total_bits}", self.total_bits)

    @property
    def resolution(self) -> float:
        return 2.0**-self.fraction_bits


@dataclass(frozen=True)
class NF4Format:
    """4-bit NormalFloat: a 4-bit index into 16 fixed code values in [-1, 1], times a per-block scale."""

    name: str = "nf4"
    total_bits: int = 4


NumberFormat = FloatFormat | IntFormat | FixedFormat | NF4Format

_IEEE_OVERFLOW = "finite values past max round to ±inf (IEEE 754; numpy and torch cast the same way)"

FP32 = FloatFormat("fp32", "IEEE 754 binary32 (float)", 8, 23, 127, True, "inf", _IEEE_OVERFLOW)
FP16 = FloatFormat("fp16", "IEEE 754 binary16 (half)", 5, 10, 15, True, "inf", _IEEE_OVERFLOW)
BF16 = FloatFormat(
    "bf16", "bfloat16: fp32's exponent, 7 mantissa bits", 8, 7, 127, True, "inf", _IEEE_OVERFLOW
)
FP8_E4M3 = FloatFormat(
    "fp8-e4m3",
    "OCP FP8 E4M3 'fn': no infinities, one NaN pattern S.1111.111",
    4,
    3,
    7,
    False,
    "saturate",
    "finite values past 448 and ±inf saturate to ±448, as torch's cast to float8_e4m3fn does "
    "(ml_dtypes turns them into NaN instead); NaN stays NaN",
)
FP8_E5M2 = FloatFormat(
    "fp8-e5m2", "OCP FP8 E5M2: IEEE-like, with inf and NaN", 5, 2, 15, True, "inf", _IEEE_OVERFLOW
)

FLOAT_FORMATS: dict[str, FloatFormat] = {
    float_format.name: float_format for float_format in (FP32, FP16, BF16, FP8_E4M3, FP8_E5M2)
}

INT_FORMATS: dict[str, IntFormat] = {f"int{bits}": IntFormat(f"int{bits}", bits) for bits in (8, 16, 32, 64)}

NF4 = NF4Format()

ALIASES: dict[str, str] = {
    "float32": "fp32",
    "f32": "fp32",
    "float16": "fp16",
    "f16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "e4m3": "fp8-e4m3",
    "e4m3fn": "fp8-e4m3",
    "fp8-e4m3fn": "fp8-e4m3",
    "e5m2": "fp8-e5m2",
}

_FIXED_PATTERN = re.compile(r"q(\d+)\.(\d+)")


def valid_format_names() -> str:
    """The names a user may type, for error messages and help text."""
    canonical = [*FLOAT_FORMATS, *INT_FORMATS, NF4.name, "qM.N (fixed point, e.g. q8.8)"]
    return ", ".join(canonical) + " (aliases: " + ", ".join(ALIASES) + ")"


def resolve_format(name: str) -> NumberFormat:
    """Look up a format by its name or alias (case-insensitive)."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key in FLOAT_FORMATS:
        return FLOAT_FORMATS[key]
    if key in INT_FORMATS:
        return INT_FORMATS[key]
    if key == NF4.name:
        return NF4
    if match := _FIXED_PATTERN.fullmatch(key):
        integer_bits, fraction_bits = int(match[1]), int(match[2])
        if integer_bits < 1 or integer_bits + fraction_bits > 64:
            raise GlossaError(
                f"fixed-point format {name!r} needs at least 1 integer bit (the sign) and at most 64 bits"
            )
        return FixedFormat(integer_bits, fraction_bits)
    raise GlossaError(f"unknown format {name!r}: choose one of {valid_format_names()}")

"""How numbers and bit patterns are written for people: exact decimals, bit groups, bytes in memory."""

import math
import sys
from fractions import Fraction


def show_number(value: float | Fraction, max_chars: int = 42) -> str:
    """A stored value written exactly when that is short (every binary fraction has a finite decimal
    expansion: 0.1 in fp32 is 0.100000001490116119384765625), else its shortest float64 form."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        if value == 0:
            return "-0" if math.copysign(1.0, value) < 0 else "0"
    exact = Fraction(value)
    power = exact.denominator.bit_length() - 1
    if exact.denominator == 1 << power:
        digits = str(abs(exact.numerator) * 5**power).rjust(power + 1, "0")  # |exact| × 10^power
        whole, fraction = digits[: len(digits) - power], digits[len(digits) - power :].rstrip("0")
        text = ("-" if exact < 0 else "") + whole + ("." + fraction if fraction else "")
        if len(text) <= max_chars:
            return text
    return f"≈ {float(exact):.17g}"


def binary(number: int, width: int) -> str:
    return format(number, f"0{width}b") if width > 0 else ""


def grouped_binary(pattern: int, width: int) -> str:
    """Bits in groups of 8 counted from the right, one group per byte."""
    text = binary(pattern, width)
    head = len(text) % 8
    return " ".join(([text[:head]] if head else []) + [text[i : i + 8] for i in range(head, len(text), 8)])


def hex_pattern(pattern: int, width: int) -> str:
    return f"0x{pattern:0{(width + 3) // 4}x}"


def memory_bytes(pattern: int, width: int) -> str:
    """The bytes as they sit in this machine's memory, lowest address first."""
    if width % 8:
        return f"{width} bits: packed with other values (two 4-bit codes per byte)"
    return f"{pattern.to_bytes(width // 8, sys.byteorder).hex(' ')} ({sys.byteorder}-endian)"

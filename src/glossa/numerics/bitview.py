"""What `glossa bits` shows: one value stored in one format, field by field, as plain data.

`describe(text, format)` returns a BitReport with three lists of rows: the bit fields and what they mean, what
was stored and how far it is from what was typed, and the format's range and precision. `compare_all(text)`
returns one row per format. The CLI only draws these, so tests and other code get the same answers.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from glossa.errors import GlossaError
from glossa.numerics.display import binary, grouped_binary, hex_pattern, memory_bytes, show_number
from glossa.numerics.fixed import decode_fixed, encode_fixed, fixed_range
from glossa.numerics.floats import decode_float, encode_float, float_fields
from glossa.numerics.formats import (
    FLOAT_FORMATS,
    INT_FORMATS,
    NF4,
    FixedFormat,
    FloatFormat,
    IntFormat,
    NF4Format,
    NumberFormat,
    resolve_format,
)
from glossa.numerics.integers import IntEncoding, encode_int, from_twos_complement
from glossa.numerics.nf4 import NF4_CODE_BOOK, nearest_nf4_index
from glossa.numerics.values import UserValue, parse_value

Rows = list[tuple[str, ...]]
ALL_FORMATS = (*FLOAT_FORMATS, *INT_FORMATS, "q8.8", "q16.16", NF4.name)
INT_OVERFLOW = "out of range is an error; --saturate clamps to min/max instead"


@dataclass(frozen=True)
class BitReport:
    title: str
    fields: Rows  # (field, bits, meaning)
    outcome: Rows  # (what, value): bits, stored value, errors, rounding and overflow rules
    facts: Rows  # (property, value): the format's range and precision
    notes: list[str]  # short remarks for the --all table (subnormal, saturated, rounded, ...)


@dataclass(frozen=True)
class ComparisonRow:
    format: str
    bits: str
    stored: str
    abs_error: str
    rel_error: str
    note: str


def describe(text: str, format_name: str, *, scale: float | None = None, saturate: bool = False) -> BitReport:
    """How `text` is stored in the format called `format_name`."""
    fmt = resolve_format(format_name)
    value = parse_value(text)
    if scale is not None and not isinstance(fmt, NF4Format):
        raise GlossaError("--scale applies to nf4 only (the absmax that maps a block onto [-1, 1])")
    if saturate and isinstance(fmt, FloatFormat | NF4Format):
        raise GlossaError(
            f"--saturate applies to integer and fixed-point formats; {fmt.name}'s rule: {_overflow_rule(fmt)}"
        )
    if value.pattern is not None and value.pattern >> fmt.total_bits:
        raise GlossaError(
            f"bit pattern {text} is {value.pattern.bit_length()} bits wide but {fmt.name} has "
            f"{fmt.total_bits}: give a pattern from 0x0 to {(1 << fmt.total_bits) - 1:#x}"
        )
    if isinstance(fmt, FloatFormat):
        return _describe_float(value, fmt)
    if isinstance(fmt, IntFormat):
        return _describe_int(value, fmt, saturate)
    if isinstance(fmt, FixedFormat):
        return _describe_fixed(value, fmt, saturate)
    return _describe_nf4(value, 1.0 if scale is None else scale)


def compare_all(text: str, *, saturate: bool = False) -> list[ComparisonRow]:
    """`text` stored in every format, one row each; a format that cannot hold it says why."""
    if parse_value(text).pattern is not None:
        raise GlossaError(
            "a hex bit pattern means something different in each format: use it with --as FORMAT"
        )
    rows = []
    for name in ALL_FORMATS:
        takes_saturate = isinstance(resolve_format(name), IntFormat | FixedFormat)
        try:
            report = describe(text, name, saturate=saturate and takes_saturate)
        except GlossaError as error:
            rows.append(ComparisonRow(name, "—", "—", "—", "—", str(error)))
            continue
        outcome = dict(report.outcome)
        rows.append(
            ComparisonRow(
                name,
                outcome["bits"],
                outcome["stored value"],
                outcome.get("absolute error", "—"),
                outcome.get("relative error", "—"),
                "; ".join(report.notes),
            )
        )
    return rows


def _describe_float(value: UserValue, fmt: FloatFormat) -> BitReport:
    if value.pattern is not None:
        pattern = value.pattern
    elif value.exact is not None and not value.negative_zero:
        pattern = encode_float(value.exact, fmt)
    else:
        pattern = encode_float(value.as_float, fmt)  # inf, nan and -0 have no Fraction
    parts = float_fields(pattern, fmt)
    stored = decode_float(pattern, fmt)
    exponent_bits = binary(parts.exponent_field, fmt.exponent_bits)
    mantissa_bits = binary(parts.mantissa_field, fmt.mantissa_bits)
    significand = parts.implicit_bit + Fraction(parts.mantissa_field, 1 << fmt.mantissa_bits)
    power = parts.unbiased_exponent

    exponent_meaning = {
        "normal": f"{parts.exponent_field} − bias {fmt.bias} = {power} → × 2^{power}",
        "subnormal": f"0 → subnormal: exponent fixed at 1 − bias = {fmt.min_exponent}, no implicit 1",
        "zero": "0 with mantissa 0 → zero",
        "inf": "all ones with mantissa 0 → infinity",
        "nan": "all ones with mantissa ≠ 0 → NaN" if fmt.has_infinity else "S.1111.111: the only NaN",
    }[parts.kind]
    mantissa_meaning = {
        "normal": f"implicit 1 → significand 1.{mantissa_bits}₂ = {show_number(significand)}",
        "subnormal": f"implicit 0 → significand 0.{mantissa_bits}₂ = {show_number(significand)}",
        "zero": "zero",
        "inf": "zero",
        "nan": "NaN payload (any non-zero value)",
    }[parts.kind]
    fields: Rows = [
        ("sign", str(parts.sign), "1 → negative" if parts.sign else "0 → positive"),
        ("exponent", exponent_bits, exponent_meaning),
        ("mantissa", mantissa_bits, mantissa_meaning),
    ]
    if parts.kind in ("normal", "subnormal"):
        sign = "-" if parts.sign else "+"
        fields.append(("value", "", f"{sign}{show_number(significand)} × 2^{power} = {show_number(stored)}"))

    bits_text = f"{parts.sign} {exponent_bits} {mantissa_bits}"
    outcome = _common_outcome(value, fmt.total_bits, pattern, bits_text, stored)
    outcome += [
        ("class", parts.kind),
        ("rounding", "round to nearest, ties to even"),
        ("overflow", fmt.overflow_note),
    ]
    notes = [parts.kind] if parts.kind != "normal" else []
    if value.special is not None and math.isinf(value.special) and math.isfinite(stored):
        notes.append(f"inf saturates to {show_number(stored)}")
    elif value.exact is not None and math.isinf(stored):
        notes.append("overflow → inf")
    digits = (fmt.mantissa_bits + 1) * math.log10(2)
    facts: Rows = [
        (
            "layout",
            f"1 sign + {fmt.exponent_bits} exponent + {fmt.mantissa_bits} mantissa bits, bias {fmt.bias}",
        ),
        ("max finite", show_number(fmt.max_finite)),
        ("min normal", show_number(fmt.min_normal)),
        ("min subnormal", show_number(fmt.min_subnormal)),
        ("machine epsilon", f"{show_number(fmt.epsilon)} (2^-{fmt.mantissa_bits})"),
        ("precision", f"{fmt.mantissa_bits + 1} significant bits ≈ {digits:.1f} decimal digits"),
        ("infinities", "yes" if fmt.has_infinity else "none"),
    ]
    return BitReport(f"{fmt.name}: {fmt.description}", fields, outcome, facts, notes)


def _describe_int(value: UserValue, fmt: IntFormat, saturate: bool) -> BitReport:
    encoding = _int_encoding(value, fmt, saturate)
    pattern = encoding.pattern
    sign_bit = pattern >> (fmt.bits - 1)
    rest = pattern & fmt.max_value
    sign_meaning = f"weighs −2^{fmt.bits - 1} = {fmt.min_value}" + (
        " (set: negative)" if sign_bit else " (clear)"
    )
    fields: Rows = [
        ("sign bit", str(sign_bit), sign_meaning),
        ("other bits", grouped_binary(rest, fmt.bits - 1), f"weigh +2^{fmt.bits - 2} … +1: sum {rest}"),
        ("value", "", f"{fmt.min_value * sign_bit} + {rest} = {encoding.stored}"),
    ]
    outcome = _common_outcome(
        value, fmt.bits, pattern, grouped_binary(pattern, fmt.bits), Fraction(encoding.stored)
    )
    outcome += [
        ("rounding", "non-integers round half to even (2.5 → 2, 3.5 → 4)"),
        ("overflow", INT_OVERFLOW),
    ]
    facts: Rows = [
        ("layout", f"{fmt.bits}-bit two's complement"),
        ("min", str(fmt.min_value)),
        ("max", str(fmt.max_value)),
        ("step", "1 everywhere"),
    ]
    title = f"{fmt.name}: signed integer, two's complement"
    return BitReport(title, fields, outcome, facts, _int_notes(value, encoding))


def _int_encoding(value: UserValue, fmt: IntFormat, saturate: bool) -> IntEncoding:
    if value.pattern is not None:
        stored = from_twos_complement(value.pattern, fmt.bits)
        return IntEncoding(stored, stored, value.pattern, False)
    if value.special is not None:
        if math.isnan(value.special) or not saturate:
            hint = "" if math.isnan(value.special) else " (pass --saturate to clamp inf)"
            raise GlossaError(
                f"{value.text} cannot be stored in {fmt.name}: integers have no inf or NaN{hint}"
            )
        end = fmt.max_value if value.special > 0 else fmt.min_value
        return IntEncoding(end, end, end & ((1 << fmt.bits) - 1), True)
    assert value.exact is not None
    return encode_int(value.exact, fmt, saturate=saturate, what=value.text)


def _int_notes(value: UserValue, encoding: IntEncoding) -> list[str]:
    notes = []
    if value.exact is not None and value.exact != encoding.rounded:
        notes.append("rounded (ties to even)")
    if encoding.saturated:
        notes.append("saturated")
    return notes


def _describe_fixed(value: UserValue, fmt: FixedFormat, saturate: bool) -> BitReport:
    if value.pattern is not None:
        encoding = _int_encoding(value, fmt.as_integer, saturate)
        stored = decode_fixed(value.pattern, fmt)
    elif value.exact is not None:
        fixed = encode_fixed(value.exact, fmt, saturate=saturate)
        encoding, stored = fixed.integer, fixed.stored
    else:
        raise GlossaError(f"{value.text} cannot be stored in {fmt.name}: fixed point has no inf or NaN")
    pattern, n = encoding.pattern, fmt.fraction_bits
    fields: Rows = [
        ("integer part", binary(pattern >> n, fmt.integer_bits), f"{fmt.integer_bits} bits, sign included"),
        ("fraction part", binary(pattern & ((1 << n) - 1), n) or "—", f"{n} bits, units of 2^-{n}"),
        ("value", "", f"{encoding.stored} × 2^-{n} = {show_number(stored)}"),
    ]
    outcome = _common_outcome(value, fmt.total_bits, pattern, grouped_binary(pattern, fmt.total_bits), stored)
    outcome += [("rounding", "half to even, to the nearest 2^-N"), ("overflow", INT_OVERFLOW)]
    low, high = fixed_range(fmt)
    facts: Rows = [
        ("layout", f"{fmt.total_bits}-bit two's complement counting units of 2^-{n} (ARM Q notation)"),
        ("min", show_number(low)),
        ("max", show_number(high)),
        ("resolution", f"{show_number(Fraction(1, 1 << n))} everywhere"),
    ]
    title = f"{fmt.name}: signed fixed point, {fmt.integer_bits} integer + {n} fraction bits"
    return BitReport(title, fields, outcome, facts, _int_notes(value, encoding))


def _describe_nf4(value: UserValue, scale: float) -> BitReport:
    if not (math.isfinite(scale) and scale > 0):
        raise GlossaError(f"--scale must be a positive finite number (the block's absmax), got {scale}")
    if value.pattern is not None:
        index = value.pattern
    elif value.exact is not None:
        index = int(nearest_nf4_index(float(value.exact) / scale))
    else:
        raise GlossaError(f"{value.text} cannot be stored in nf4: its 16 code values are finite")
    code = float(NF4_CODE_BOOK[index])
    stored = Fraction(code) * Fraction(scale)
    nearby = range(max(index - 1, 0), min(index + 2, 16))
    fields: Rows = [
        ("index", binary(index, 4), f"code {index} of 16"),
        ("code value", "", repr(code)),
        ("scale", "", f"{show_number(scale)} (the block's absmax; default 1)"),
        ("value", "", f"{code!r} × {show_number(scale)} = {show_number(stored)}"),
    ]
    outcome = _common_outcome(value, 4, index, binary(index, 4), stored)
    outcome += [
        ("rounding", "nearest code value (exact ties go to the lower code)"),
        ("neighbours", ", ".join(f"{i}: {float(NF4_CODE_BOOK[i]):.6g}" for i in nearby)),
        ("overflow", _overflow_rule(NF4)),
    ]
    notes = (
        ["outside ±scale: clamped"] if value.exact is not None and abs(value.exact) > Fraction(scale) else []
    )
    facts: Rows = [
        ("layout", "4-bit index into 16 quantiles of N(0, 1) scaled to [-1, 1] (QLoRA)"),
        ("code book", ", ".join(f"{c:.4g}" for c in NF4_CODE_BOOK.tolist())),
        ("range", f"±{show_number(scale)} (± the block's absmax)"),
        ("blocks", "64 values share one absmax scale (fp32, or 8-bit with double quantization)"),
    ]
    return BitReport("nf4: 4-bit NormalFloat", fields, outcome, facts, notes)


def _common_outcome(value: UserValue, width: int, pattern: int, bits: str, stored: float | Fraction) -> Rows:
    rows: Rows = [
        ("input", value.text if value.pattern is None else f"{value.text} (raw bits, read as is)"),
        ("bits", bits),
        ("hex", hex_pattern(pattern, width)),
        ("bytes in memory", memory_bytes(pattern, width)),
        ("stored value", show_number(stored)),
    ]
    absolute, relative = _errors(value, stored)
    if absolute is not None:
        rows.append(("absolute error", absolute))
    if relative is not None:
        rows.append(("relative error", relative))
    return rows


def _errors(value: UserValue, stored: float | Fraction) -> tuple[str | None, str | None]:
    """stored − input, computed exactly, and relative to |input|; None where meaningless (raw bits, NaN)."""
    if value.pattern is not None:
        return None, None
    if value.special is not None:
        if math.isnan(value.special) or math.isnan(stored):
            return None, None
        if float(stored) == value.special:
            return "0", "0"
        return repr(float(stored) - value.special), "—"
    assert value.exact is not None
    if not math.isfinite(stored):
        return repr(float(stored)), "inf"
    error = Fraction(stored) - value.exact
    if error == 0:
        return "0", "0"
    relative = "—" if value.exact == 0 else f"{float(abs(error) / abs(value.exact)):.3g}"
    return f"{float(error):.6g}", relative


def _overflow_rule(fmt: NumberFormat) -> str:
    if isinstance(fmt, FloatFormat):
        return fmt.overflow_note
    if isinstance(fmt, NF4Format):
        return "values past ±scale take the end codes ±1"
    return INT_OVERFLOW

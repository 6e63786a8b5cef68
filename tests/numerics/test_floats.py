"""Our float encoder/decoder against numpy, torch and ml_dtypes, bit for bit.

Each encoder test draws 10,000+ values built to hit the hard cases of the target format: exact values,
exact round-half-to-even ties (midpoints of neighbours), values one input-ulp either side of a tie,
subnormals, values around and past max, ±inf, NaN and ±0. The grid of representable values comes from the
oracle, never from the code under test (the format's range, used to aim the samples, is itself checked
against finfo below). A coverage check asserts each sample really rounded both ways and reached every
class of result. NaN payloads differ between oracles (torch writes 0xffff or 0x7fc0
for a bf16 NaN depending on the code path), so for NaN only NaN-ness is compared.
"""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.numerics.floats import (
    decode_float,
    decode_floats,
    encode_float,
    encode_floats,
    float64_round_to_odd,
    float_fields,
    is_nan_bits,
)
from glossa.numerics.formats import FLOAT_FORMATS

# Casting NaN payloads and out-of-range values is exactly what these tests do; numpy warns about both.
pytestmark = [
    pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning"),
]

FP32, FP16, BF16 = FLOAT_FORMATS["fp32"], FLOAT_FORMATS["fp16"], FLOAT_FORMATS["bf16"]
E4M3, E5M2 = FLOAT_FORMATS["fp8-e4m3"], FLOAT_FORMATS["fp8-e5m2"]
SAMPLES = 10_000


def torch_bits(values32: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    converted = torch.from_numpy(values32).to(dtype)
    if converted.element_size() == 1:
        return converted.view(torch.uint8).numpy().astype(np.int64)
    return converted.view(torch.int16).numpy().view(np.uint16).astype(np.int64)


def torch_values(patterns: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    raw = torch.from_numpy(patterns.astype(np.uint8 if dtype.itemsize == 1 else np.int16))
    return raw.view(dtype).to(torch.float64).numpy()


def neighbours_from_patterns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjacent pairs of non-negative finite values, from an oracle's decoding of every bit pattern."""
    grid = np.unique(np.abs(values[np.isfinite(values)]))
    return grid[:-1], grid[1:]


def hard_cases(lower: np.ndarray, upper: np.ndarray, fmt, dtype: type, seed: int) -> np.ndarray:
    """≥ SAMPLES values of `dtype` (the oracle's input type) aimed at rounding's hard cases.

    `lower[i] < upper[i]` are neighbouring representable values of the target format.
    """
    rng = np.random.default_rng(seed)

    def signed(values: np.ndarray) -> np.ndarray:
        return values * rng.choice([-1.0, 1.0], len(values))

    pick = rng.integers(0, len(lower), 4000)
    exact = signed(lower[pick[:2000]])
    ties = signed((lower[pick[:2000]] + upper[pick[:2000]]) / 2)
    assert np.all(ties.astype(dtype) == ties) and np.all(exact.astype(dtype) == exact)
    near = ((lower[pick[2000:]] + upper[pick[2000:]]) / 2).astype(dtype)
    near_ties = signed(np.concatenate([np.nextafter(near, dtype(np.inf)), np.nextafter(near, dtype(0))]))
    ulp_at_max = 2.0 ** (np.floor(np.log2(fmt.max_finite)) - fmt.mantissa_bits)
    past_max = signed(fmt.max_finite + rng.uniform(0, 4, 1000) * ulp_at_max)
    subnormals = signed(rng.uniform(0, fmt.min_normal, 2000))
    log_uniform = signed(
        np.exp2(rng.uniform(np.log2(fmt.min_subnormal) - 3, np.log2(fmt.max_finite) + 3, 1500))
    )
    tie_past_max = fmt.max_finite + ulp_at_max / 2
    specials = [
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        np.nan,
        -np.nan,
        fmt.max_finite,
        tie_past_max,
        -tie_past_max,
        fmt.min_normal,
        fmt.min_subnormal,
        fmt.min_subnormal / 2,
        -fmt.min_subnormal / 2,
    ]
    values = np.concatenate(
        [exact, ties, near_ties, past_max, subnormals, log_uniform, np.array(specials * 10)]
    )
    cast = values.astype(dtype)
    assert len(cast) >= SAMPLES
    return cast


def assert_same_bits(
    fmt, ours: np.ndarray, theirs: np.ndarray, their_values: np.ndarray, values: np.ndarray
) -> None:
    nan = np.isnan(their_values)
    ours_nan = is_nan_bits(ours, fmt)
    assert np.array_equal(nan, ours_nan), f"NaN disagreement at inputs {values[nan != ours_nan][:5]}"
    mismatch = (ours != theirs) & ~nan
    assert not mismatch.any(), (
        f"{mismatch.sum()} mismatches, e.g. input {values[mismatch][:5]} → ours {ours[mismatch][:5]}, "
        f"theirs {theirs[mismatch][:5]}"
    )


def check_encoder(fmt, values: np.ndarray, oracle_bits: np.ndarray, oracle_values: np.ndarray) -> np.ndarray:
    ours = encode_floats(values.astype(np.float64), fmt)
    assert_same_bits(fmt, ours, oracle_bits, oracle_values, values)
    return ours


def assert_covers_hard_cases(fmt, values: np.ndarray, ours: np.ndarray) -> None:
    """The sample really did reach every class of result and rounded both ways on ties."""
    kinds = {float_fields(int(p), fmt).kind for p in np.unique(ours)}
    assert {"zero", "subnormal", "normal", "nan"} <= kinds
    if fmt.has_infinity:
        assert "inf" in kinds
    decoded = decode_floats(ours, fmt)
    finite = np.isfinite(values) & np.isfinite(decoded)
    assert (finite & (np.abs(decoded) > np.abs(values))).sum() > 1000
    assert (finite & (np.abs(decoded) < np.abs(values))).sum() > 1000


def fp32_neighbours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 values (normal and subnormal) and the next float32 up, decoded by numpy."""
    starts = np.concatenate(
        [rng.integers(0, 0x7F7FFFFF, 3500), rng.integers(0, 0x007FFFFF, 500), [0, 0x007FFFFF, 0x7F7FFFFE]]
    )
    as_float = lambda patterns: patterns.astype(np.uint32).view(np.float32).astype(np.float64)  # noqa: E731
    return as_float(starts), as_float(starts + 1)


def test_fp32_encoder_matches_numpy_float64_cast() -> None:
    rng = np.random.default_rng(1)
    values = hard_cases(*fp32_neighbours(rng), FP32, np.float64, 2)
    random_doubles = rng.integers(0, 2**63, SAMPLES, dtype=np.int64).view(np.float64)
    for inputs in (values, random_doubles):
        theirs = inputs.astype(np.float32)
        ours = check_encoder(FP32, inputs, theirs.view(np.uint32).astype(np.int64), theirs.astype(np.float64))
    assert_covers_hard_cases(FP32, values, encode_floats(values, FP32))
    assert ours.shape == (SAMPLES,)


def test_fp16_encoder_matches_numpy() -> None:
    every = np.arange(1 << 16).astype(np.uint16).view(np.float16).astype(np.float64)
    for dtype, seed in ((np.float64, 3), (np.float32, 4)):
        values = hard_cases(*neighbours_from_patterns(every), FP16, dtype, seed)
        theirs = values.astype(np.float16)
        ours = check_encoder(FP16, values, theirs.view(np.uint16).astype(np.int64), theirs.astype(np.float64))
        assert_covers_hard_cases(FP16, values, ours)


def test_bf16_encoder_matches_torch_and_ml_dtypes() -> None:
    every = np.arange(1 << 16).astype(np.uint16).view(ml_dtypes.bfloat16).astype(np.float64)
    values = hard_cases(*neighbours_from_patterns(every), BF16, np.float32, 5)
    theirs = torch_bits(values, torch.bfloat16)
    ours = check_encoder(BF16, values, theirs, torch_values(theirs, torch.bfloat16))
    assert_covers_hard_cases(BF16, values, ours)
    theirs_ml = values.astype(ml_dtypes.bfloat16)
    check_encoder(BF16, values, theirs_ml.view(np.uint16).astype(np.int64), theirs_ml.astype(np.float64))


def test_e4m3_encoder_matches_torch_float8_e4m3fn() -> None:
    every = torch_values(np.arange(256), torch.float8_e4m3fn)
    values = hard_cases(*neighbours_from_patterns(every), E4M3, np.float32, 6)
    theirs = torch_bits(values, torch.float8_e4m3fn)
    ours = check_encoder(E4M3, values, theirs, torch_values(theirs, torch.float8_e4m3fn))
    assert_covers_hard_cases(E4M3, values, ours)
    # torch saturates: everything that rounds past max, and ±inf, becomes ±448
    beyond = np.abs(values) > 464
    assert beyond.sum() > 400
    assert np.all(np.abs(decode_floats(ours[beyond], E4M3)) == 448)


def test_e4m3_agrees_with_ml_dtypes_except_overflow_which_ml_dtypes_makes_nan() -> None:
    every = torch_values(np.arange(256), torch.float8_e4m3fn)
    values = hard_cases(*neighbours_from_patterns(every), E4M3, np.float32, 7)
    theirs = values.astype(ml_dtypes.float8_e4m3fn)
    in_range = np.abs(values) <= 464  # 464 is the tie between 448 and (missing) 480: it rounds to even, 448
    ours = encode_floats(values.astype(np.float64), E4M3)
    their_bits = theirs.view(np.uint8).astype(np.int64)
    their_values = theirs.astype(np.float64)
    assert_same_bits(E4M3, ours[in_range], their_bits[in_range], their_values[in_range], values[in_range])
    assert np.all(np.isnan(their_values[~in_range]))


def test_e5m2_encoder_matches_torch_float8_e5m2_and_ml_dtypes() -> None:
    every = torch_values(np.arange(256), torch.float8_e5m2)
    values = hard_cases(*neighbours_from_patterns(every), E5M2, np.float32, 8)
    theirs = torch_bits(values, torch.float8_e5m2)
    ours = check_encoder(E5M2, values, theirs, torch_values(theirs, torch.float8_e5m2))
    assert_covers_hard_cases(E5M2, values, ours)
    theirs_ml = values.astype(ml_dtypes.float8_e5m2)
    check_encoder(E5M2, values, theirs_ml.view(np.uint8).astype(np.int64), theirs_ml.astype(np.float64))


def assert_same_values(ours: np.ndarray, theirs: np.ndarray) -> None:
    nan = np.isnan(theirs)
    assert np.array_equal(np.isnan(ours), nan)
    assert np.array_equal(ours[~nan], theirs[~nan])
    assert np.array_equal(np.signbit(ours[~nan]), np.signbit(theirs[~nan]))


def test_fp16_decoder_matches_numpy_on_every_pattern() -> None:
    patterns = np.arange(1 << 16)
    assert_same_values(
        decode_floats(patterns, FP16), patterns.astype(np.uint16).view(np.float16).astype(np.float64)
    )


def test_bf16_decoder_matches_torch_and_ml_dtypes_on_every_pattern() -> None:
    patterns = np.arange(1 << 16)
    ours = decode_floats(patterns, BF16)
    assert_same_values(ours, patterns.astype(np.uint16).view(ml_dtypes.bfloat16).astype(np.float64))
    assert_same_values(ours, torch_values(patterns, torch.bfloat16))


@pytest.mark.parametrize(
    ("fmt", "torch_dtype", "ml_dtype"),
    [(E4M3, torch.float8_e4m3fn, ml_dtypes.float8_e4m3fn), (E5M2, torch.float8_e5m2, ml_dtypes.float8_e5m2)],
)
def test_fp8_decoder_matches_torch_and_ml_dtypes_on_every_pattern(fmt, torch_dtype, ml_dtype) -> None:
    patterns = np.arange(256)
    ours = decode_floats(patterns, fmt)
    assert_same_values(ours, torch_values(patterns, torch_dtype))
    assert_same_values(ours, patterns.astype(np.uint8).view(ml_dtype).astype(np.float64))


def test_fp32_decoder_matches_numpy_on_random_and_edge_patterns() -> None:
    rng = np.random.default_rng(9)
    edges = [
        0,
        1,
        0x007FFFFF,
        0x00800000,
        0x3F800000,
        0x7F7FFFFF,
        0x7F800000,
        0x7F800001,
        0x7FC00000,
        0xFFFFFFFF,
    ]
    patterns = np.concatenate([rng.integers(0, 1 << 32, 100_000), edges, np.array(edges) | 0x80000000])
    assert_same_values(
        decode_floats(patterns, FP32), patterns.astype(np.uint32).view(np.float32).astype(np.float64)
    )


@pytest.mark.parametrize("name", ["fp16", "bf16", "fp8-e4m3", "fp8-e5m2"])
def test_every_non_nan_pattern_survives_decode_then_encode(name: str) -> None:
    fmt = FLOAT_FORMATS[name]
    patterns = np.arange(1 << fmt.total_bits)
    keep = ~is_nan_bits(patterns, fmt)
    assert np.array_equal(encode_floats(decode_floats(patterns[keep], fmt), fmt), patterns[keep])


@pytest.mark.parametrize(
    ("name", "finfo"),
    [
        ("fp32", np.finfo(np.float32)),
        ("fp16", np.finfo(np.float16)),
        ("bf16", ml_dtypes.finfo(ml_dtypes.bfloat16)),
        ("fp8-e4m3", ml_dtypes.finfo(ml_dtypes.float8_e4m3fn)),
        ("fp8-e5m2", ml_dtypes.finfo(ml_dtypes.float8_e5m2)),
    ],
)
def test_format_range_and_precision_match_finfo(name: str, finfo) -> None:
    fmt = FLOAT_FORMATS[name]
    assert fmt.max_finite == float(finfo.max)
    assert fmt.min_normal == float(finfo.smallest_normal)
    assert fmt.min_subnormal == float(finfo.smallest_subnormal)
    assert fmt.epsilon == float(finfo.eps)


def test_known_patterns() -> None:
    assert encode_float(1.0, FP16) == 0x3C00
    assert decode_float(0x3C00, FP16) == 1.0
    assert encode_float(1.5, FP16) == 0x3E00
    assert encode_float(65520.0, FP16) == 0x7C00  # the tie above max rounds to even: inf
    assert encode_float(65519.99, FP16) == 0x7BFF
    assert encode_float(1 + 2**-11, FP16) == 0x3C00  # tie between 1 and 1 + 2^-10: even is 1
    assert encode_float(1 + 3 * 2**-11, FP16) == 0x3C02  # tie between odd 0x3c01 and even 0x3c02
    assert encode_float(-0.0, BF16) == 0x8000
    assert encode_float(float("nan"), E4M3) == 0x7F
    assert encode_float(float("-inf"), E4M3) == 0xFE  # saturates to -448
    assert encode_float(float("inf"), E5M2) == 0x7C
    assert encode_float(2.0**-17, E5M2) == 0x00  # half the min subnormal: a tie, rounds to even zero
    assert encode_float(2.0**-16 * 0.75, E5M2) == 0x01


def test_decimal_input_rounds_once_from_the_exact_value() -> None:
    tie = Fraction(1) + Fraction(1, 2**24)  # exactly between fp32's 1.0 and 1 + 2^-23
    assert encode_float(tie, FP32) == 0x3F800000
    assert encode_float(tie + Fraction(1, 10**30), FP32) == 0x3F800001  # float64 alone would land on the tie
    assert encode_float(tie - Fraction(1, 10**30), FP32) == 0x3F800000
    assert float64_round_to_odd(Fraction(1, 10**400)) == 5e-324
    assert float64_round_to_odd(Fraction(10**400)) == float("inf")


@settings(max_examples=300, deadline=None)
@given(
    numerator=st.integers(-(10**12), 10**12),
    digits=st.integers(0, 14),
    name=st.sampled_from(["fp16", "bf16", "fp8-e4m3", "fp8-e5m2"]),
)
def test_decimal_encoding_is_the_nearest_with_ties_to_even(numerator: int, digits: int, name: str) -> None:
    fmt = FLOAT_FORMATS[name]
    exact = Fraction(numerator, 10**digits)
    pattern = encode_float(exact, fmt)
    stored = decode_float(pattern, fmt)
    if abs(exact) > fmt.max_finite:
        return  # overflow rules are checked against torch above
    candidates = [p for p in (pattern - 1, pattern + 1) if 0 <= p < (1 << fmt.total_bits)]
    for other in candidates:
        value = decode_float(other, fmt)
        if value != value or abs(value) == float("inf") or (value < 0) != (stored < 0):
            continue
        mine, theirs = abs(Fraction(stored) - exact), abs(Fraction(value) - exact)
        assert mine < theirs or (mine == theirs and pattern % 2 == 0)

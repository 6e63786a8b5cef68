"""The quantization comparison behind `glossa quantize`: one Gaussian weight matrix, stored every way.

Float formats are plain casts through our own encoder (plus fp8 with one fp32 scale per tensor, the way
fp8 weights are used in practice: a plain cast of 0.02-sized weights lands mostly in fp8's subnormals).
Integer rows cover absmax and zero-point, int8 and int4, per tensor, channel and block; NF4 with and
without double quantization. Each row reports bits per weight (overhead included), MSE, max abs error and
SQNR = 10·log10(Σw² / Σ(w - w')²), the signal-to-quantization-noise ratio in dB (about 6 dB per bit).
"""

import math
from dataclasses import dataclass

import numpy as np

from glossa.errors import GlossaError
from glossa.numerics.floats import round_trip
from glossa.numerics.formats import FLOAT_FORMATS
from glossa.numerics.nf4 import nf4_quantize
from glossa.numerics.quantize import absmax_quantize, check_block_size, zero_point_quantize

MAX_ELEMENTS = 1 << 24  # 16M weights: a few seconds, and an explicit limit rather than an out-of-memory


@dataclass(frozen=True)
class MethodResult:
    method: str
    bits_per_weight: float
    mse: float
    max_abs_error: float
    sqnr_db: float


def gaussian_weights(rows: int, cols: int, seed: int = 0, std: float = 0.02) -> np.ndarray:
    """A float32 rows × cols matrix of N(0, std²) weights (0.02 is GPT-2's initialisation)."""
    if rows < 1 or cols < 1:
        raise GlossaError(f"rows and cols must be positive, got {rows} × {cols}")
    if rows * cols > MAX_ELEMENTS:
        raise GlossaError(f"{rows} × {cols} is more than {MAX_ELEMENTS:,} weights: use a smaller matrix")
    if not (math.isfinite(std) and std > 0):
        raise GlossaError(f"std must be a positive number, got {std}")
    return (np.random.default_rng(seed).standard_normal((rows, cols)) * std).astype(np.float32)


def measure(
    method: str, weights: np.ndarray, reconstruction: np.ndarray, bits_per_weight: float
) -> MethodResult:
    original = weights.astype(np.float64)
    error = reconstruction - original
    noise = float(np.sum(error**2))
    signal = float(np.sum(original**2))
    sqnr = math.inf if noise == 0 else 10 * math.log10(signal / noise)
    return MethodResult(method, bits_per_weight, float(np.mean(error**2)), float(np.max(np.abs(error))), sqnr)


def compare_methods(weights: np.ndarray, block_size: int = 64) -> list[MethodResult]:
    """Quantize `weights` every way; rows sorted by bits per weight, then by error."""
    check_block_size(block_size)
    results = [measure("fp32 (reference)", weights, weights.astype(np.float64), 32)]
    per_tensor_scale_bits = 32 / weights.size
    for name, fmt in FLOAT_FORMATS.items():
        if name == "fp32":
            continue
        results.append(measure(f"{name} cast", weights, round_trip(weights, fmt), fmt.total_bits))
        if fmt.total_bits == 8:
            scale = float(np.float32(np.max(np.abs(weights)) / fmt.max_finite)) or 1.0
            scaled = round_trip(weights.astype(np.float64) / scale, fmt) * scale
            results.append(measure(f"{name} scaled per tensor", weights, scaled, 8 + per_tensor_scale_bits))
    for quantize in (absmax_quantize, zero_point_quantize):
        for bits in (8, 4):
            for granularity in ("tensor", "channel", "block"):
                quantized = quantize(weights, bits, granularity, block_size)
                results.append(
                    measure(quantized.method, weights, quantized.reconstruction, quantized.bits_per_weight)
                )
    for double_quant in (False, True):
        nf4 = nf4_quantize(weights, block_size, double_quant=double_quant)
        label = f"nf4 per block of {block_size}" + (" + double quantization" if double_quant else "")
        results.append(measure(label, weights, nf4.reconstruction, nf4.bits_per_weight))
    return sorted(results, key=lambda result: (result.bits_per_weight, result.mse))

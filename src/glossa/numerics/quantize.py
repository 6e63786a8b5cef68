"""Post-training integer quantization: absmax (symmetric) and zero-point (asymmetric), per tensor, per
channel or per block.

Every variant is the same three steps on a 2-D view of the weights, one row per group that shares a scale:

    scale  = range / levels                  (stored as fp32: 32 bits per group)
    code   = clip(round(w / scale) [+ zero point])
    w'     = (code [- zero point]) × scale   (the reconstruction)

- symmetric (absmax): range = max|w|, codes in [-(2^(b-1) - 1), 2^(b-1) - 1]; zero is exact and no zero point
  is stored (LLM.int8(), bitsandbytes, most weight-only kernels).
- asymmetric (zero-point): range = [min(w, 0), max(w, 0)] mapped onto [0, 2^b - 1]; the integer zero point
  (stored with b bits) is the code that means 0.0, so data with a non-zero mean wastes no levels.

Groups: the whole tensor, each row ("channel": one output feature of a linear layer), or flat blocks of
`block_size` consecutive values, padded with zeros at the end, as bitsandbytes does. Smaller groups cost more
scale bits but confine an outlier's damage to its own group; `bits_per_weight` counts that overhead.
Rounding is numpy's rint: round half to even.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from glossa.errors import GlossaError

Granularity = Literal["tensor", "channel", "block"]
SCALE_BITS = 32


@dataclass(frozen=True)
class QuantizedTensor:
    """Integer codes plus what it takes to read them back, and how good the read-back is."""

    method: str
    bits: int
    granularity: Granularity
    block_size: int | None
    codes: np.ndarray  # same shape as the input
    scales: np.ndarray  # one fp32 scale per group
    zero_points: np.ndarray | None  # one per group, asymmetric only
    reconstruction: np.ndarray  # the dequantized weights, float64, same shape as the input
    mse: float
    max_abs_error: float
    bits_per_weight: float  # code bits plus scale / zero-point bits spread over the weights

    def element_scales(self) -> np.ndarray:
        """The step size that applies to each element (its group's scale), shaped like the input."""
        return _ungroup(np.broadcast_to(self.scales[:, None], _group_shape(self)), self.codes.shape)


def absmax_quantize(
    weights: ArrayLike, bits: int = 8, granularity: Granularity = "tensor", block_size: int = 64
) -> QuantizedTensor:
    """Symmetric quantization: scale = max|w| / (2^(b-1) - 1), codes = round(w / scale)."""
    x, groups = _prepare(weights, bits, granularity, block_size)
    levels = (1 << (bits - 1)) - 1
    scales = (np.max(np.abs(groups), axis=1) / levels).astype(np.float32)
    divisor = _nonzero(scales)
    codes = np.clip(np.rint(groups / divisor[:, None]), -levels, levels)
    return _result("absmax", x, bits, granularity, block_size, codes, scales, None)


def zero_point_quantize(
    weights: ArrayLike, bits: int = 8, granularity: Granularity = "tensor", block_size: int = 64
) -> QuantizedTensor:
    """Asymmetric quantization: [min, max] (widened to include 0) onto [0, 2^b - 1] with a zero point."""
    x, groups = _prepare(weights, bits, granularity, block_size)
    top_code = (1 << bits) - 1
    low = np.minimum(groups.min(axis=1), 0.0)
    high = np.maximum(groups.max(axis=1), 0.0)
    scales = ((high - low) / top_code).astype(np.float32)
    divisor = _nonzero(scales)
    zero_points = np.clip(np.rint(-low / divisor), 0, top_code)
    codes = np.clip(np.rint(groups / divisor[:, None]) + zero_points[:, None], 0, top_code)
    return _result("zero-point", x, bits, granularity, block_size, codes, scales, zero_points)


def describe_method(scheme: str, bits: int, granularity: Granularity, block_size: int | None) -> str:
    groups = {"tensor": "per tensor", "channel": "per channel", "block": f"per block of {block_size}"}
    return f"int{bits} {scheme} {groups[granularity]}"


def check_block_size(block_size: int) -> None:
    if not isinstance(block_size, int | np.integer) or block_size < 1:
        raise GlossaError(f"block size must be a positive integer, got {block_size!r}: try 64")


def _prepare(
    weights: ArrayLike, bits: int, granularity: Granularity, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(weights, dtype=np.float64)
    if x.size == 0:
        raise GlossaError("nothing to quantize: the weights are empty")
    if not np.all(np.isfinite(x)):
        raise GlossaError("weights must be finite to quantize: found inf or NaN")
    if not 2 <= bits <= 16:
        raise GlossaError(f"integer quantization needs 2 to 16 bits, got {bits}")
    if granularity not in ("tensor", "channel", "block"):
        raise GlossaError(f"unknown granularity {granularity!r}: choose tensor, channel or block")
    if granularity == "channel" and x.ndim < 2:
        raise GlossaError("per-channel quantization needs a matrix (one scale per row); got a 1-D array")
    if granularity == "block":
        check_block_size(block_size)
    return x, _group(x, granularity, block_size)


def _group(x: np.ndarray, granularity: Granularity, block_size: int) -> np.ndarray:
    """A 2-D view with one row per group that shares a scale."""
    if granularity == "tensor":
        return x.reshape(1, -1)
    if granularity == "channel":
        return x.reshape(x.shape[0], -1)
    padded = np.zeros(-(-x.size // block_size) * block_size)
    padded[: x.size] = x.reshape(-1)
    return padded.reshape(-1, block_size)


def _group_shape(quantized: QuantizedTensor) -> tuple[int, int]:
    if quantized.granularity == "block":
        assert quantized.block_size is not None
        return (len(quantized.scales), quantized.block_size)
    return (len(quantized.scales), quantized.codes.size // len(quantized.scales))


def _ungroup(groups: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape))
    return np.ascontiguousarray(groups).reshape(-1)[:size].reshape(shape)


def _nonzero(scales: np.ndarray) -> np.ndarray:
    """Scales as float64 divisors; an all-zero group gets 1 (its codes are 0 whatever the scale)."""
    return np.where(scales > 0, scales, 1.0).astype(np.float64)


def _code_dtype(bits: int, signed: bool) -> type[np.integer]:
    if bits <= 8:
        return np.int8 if signed else np.uint8
    return np.int16 if signed else np.uint16


def _result(
    scheme: str,
    x: np.ndarray,
    bits: int,
    granularity: Granularity,
    block_size: int,
    codes: np.ndarray,
    scales: np.ndarray,
    zero_points: np.ndarray | None,
) -> QuantizedTensor:
    """Dequantize, measure, and count the bits: each group stores an fp32 scale (and a b-bit zero point)."""
    offset = 0.0 if zero_points is None else zero_points[:, None]
    reconstruction = _ungroup((codes - offset) * scales.astype(np.float64)[:, None], x.shape)
    overhead_bits = (SCALE_BITS + (0 if zero_points is None else bits)) * len(scales)
    block = block_size if granularity == "block" else None
    codes = _ungroup(codes, x.shape)
    error = reconstruction - x
    return QuantizedTensor(
        method=describe_method(scheme, bits, granularity, block),
        bits=bits,
        granularity=granularity,
        block_size=block,
        codes=codes.astype(_code_dtype(bits, signed=zero_points is None)),
        scales=scales,
        zero_points=None if zero_points is None else zero_points.astype(_code_dtype(bits, signed=False)),
        reconstruction=reconstruction,
        mse=float(np.mean(error**2)),
        max_abs_error=float(np.max(np.abs(error))),
        bits_per_weight=bits + overhead_bits / x.size,
    )

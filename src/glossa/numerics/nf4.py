"""NF4 (4-bit NormalFloat, QLoRA) and double quantization of its block scales.

Pretrained weights are roughly normal, so NF4 places its 16 levels at quantiles of N(0, 1) instead of
spacing them evenly: each level covers about the same share of the weights. The construction (bitsandbytes'
`create_normal_map`) is asymmetric so that 0 is exact: 8 positive quantiles and 7 negative ones between
probability 1 - offset and 1/2, plus 0, normalised by the largest so the book spans [-1, 1]. Done in
float32 as bitsandbytes does it, that construction reproduces the published table bit for bit;
`NF4_CODE_BOOK` is that published table, and a test checks the two agree.

Quantizing a tensor: flat blocks of 64, each divided by its absmax (stored fp32: 32/64 = 0.5 bits per weight),
then each value becomes the index of the nearest code (ties go to the lower code, as in bitsandbytes' kernel).

Double quantization (QLoRA §3): the fp32 absmax scales are themselves quantized: subtract their mean, then
8-bit absmax quantization in blocks of 256 (quantize.py). Scale cost drops to 8/64 + 32/(64·256) ≈ 0.127 bits
per weight. (bitsandbytes stores the second level in its 8-bit "dynamic" float map; int8 absmax here gives
the same overhead and keeps one fewer code book.)
"""

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

from glossa.errors import GlossaError
from glossa.numerics.quantize import absmax_quantize, check_block_size

# bitsandbytes csrc/kernels.cu (dDequantizeNF4) and the QLoRA paper, appendix E.
NF4_CODE_BOOK = np.array(
    [
        -1.0,
        -0.6961928009986877,
        -0.5250730514526367,
        -0.39491748809814453,
        -0.28444138169288635,
        -0.18477343022823334,
        -0.09105003625154495,
        0.0,
        0.07958029955625534,
        0.16093020141124725,
        0.24611230194568634,
        0.33791524171829224,
        0.44070982933044434,
        0.5626170039176941,
        0.7229568362236023,
        1.0,
    ],
    dtype=np.float32,
)
NF4_CODE_BOOK.flags.writeable = False

NF4_OFFSET = 0.9677083  # bitsandbytes: the mean of 1 - 1/(2·15) and 1 - 1/(2·16)
SCALE_BITS = 32
_MIDPOINTS = (NF4_CODE_BOOK[:-1].astype(np.float64) + NF4_CODE_BOOK[1:]) / 2


def _torch_style_linspace(start: float, end: float, steps: int) -> np.ndarray:
    """float32 linspace computed like torch.linspace (from both ends toward the middle)."""
    start32, end32 = np.float32(start), np.float32(end)
    step = np.float32((end32 - start32) / np.float32(steps - 1))
    index = np.arange(steps)
    from_start = start32 + step * index.astype(np.float32)
    from_end = end32 - step * (steps - 1 - index).astype(np.float32)
    return np.where(index < steps // 2, from_start, from_end).astype(np.float32)


def normal_float_code(offset: float = NF4_OFFSET) -> np.ndarray:
    """Build the 16 NF4 levels from quantiles of N(0, 1): 8 positive, 7 negative, and an exact 0."""
    quantile = NormalDist().inv_cdf
    positive = [quantile(float(p)) for p in _torch_style_linspace(offset, 0.5, 9)[:-1]]
    negative = [-quantile(float(p)) for p in _torch_style_linspace(offset, 0.5, 8)[:-1]]
    levels = np.sort(np.array([*positive, 0.0, *negative], dtype=np.float32))
    return levels / levels.max()


def nearest_nf4_index(normalized: ArrayLike) -> np.ndarray:
    """Index (0..15) of the code value nearest each input in [-1, 1]; inputs outside clamp to the ends."""
    return np.searchsorted(_MIDPOINTS, np.asarray(normalized, dtype=np.float64), side="left").astype(np.uint8)


@dataclass(frozen=True)
class NF4Tensor:
    indices: np.ndarray  # 4-bit codes (one per uint8 here; two per byte when packed)
    scales: np.ndarray  # the per-block absmax actually used to read back (after double quantization, if on)
    reconstruction: np.ndarray
    mse: float
    max_abs_error: float
    scale_bits_per_weight: float
    bits_per_weight: float
    double_quantized: bool


def nf4_quantize(
    weights: ArrayLike, block_size: int = 64, *, double_quant: bool = False, scale_block_size: int = 256
) -> NF4Tensor:
    """Blockwise absmax NF4 quantization, optionally with double quantization of the absmax scales."""
    check_block_size(block_size)
    check_block_size(scale_block_size)
    x = np.asarray(weights, dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise GlossaError("NF4 needs a non-empty array of finite weights")
    blocks = np.zeros(-(-x.size // block_size) * block_size)
    blocks[: x.size] = x.reshape(-1)
    blocks = blocks.reshape(-1, block_size)
    absmax = np.max(np.abs(blocks), axis=1).astype(np.float32)
    divisor = np.where(absmax > 0, absmax, 1.0).astype(np.float64)
    indices = nearest_nf4_index(blocks / divisor[:, None])

    if double_quant:
        scales, scale_bits = _double_quantize(absmax, scale_block_size)
    else:
        scales, scale_bits = absmax, SCALE_BITS * len(absmax)
    blocks_read_back = NF4_CODE_BOOK[indices].astype(np.float64) * scales.astype(np.float64)[:, None]
    reconstruction = blocks_read_back.reshape(-1)[: x.size].reshape(x.shape)
    error = reconstruction - x
    scale_bits_per_weight = scale_bits / x.size
    return NF4Tensor(
        indices=indices.reshape(-1)[: x.size].reshape(x.shape),
        scales=scales,
        reconstruction=reconstruction,
        mse=float(np.mean(error**2)),
        max_abs_error=float(np.max(np.abs(error))),
        scale_bits_per_weight=scale_bits_per_weight,
        bits_per_weight=4 + scale_bits_per_weight,
        double_quantized=double_quant,
    )


def _double_quantize(absmax: np.ndarray, block_size: int) -> tuple[np.ndarray, int]:
    """Quantize the fp32 scales to int8 in blocks (after removing their mean); return them read back and
    the bits it takes to store them: 8 per scale, 32 per block of scales, 32 for the mean."""
    mean = np.float32(absmax.mean())
    second = absmax_quantize(absmax - mean, bits=8, granularity="block", block_size=block_size)
    scales = (second.reconstruction + mean).astype(np.float32)
    bits = 8 * len(absmax) + SCALE_BITS * len(second.scales) + SCALE_BITS
    return scales, bits

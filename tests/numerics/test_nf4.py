"""NF4: the published code book, its quantile construction, and what it and double quantization buy."""

import numpy as np
import pytest

from glossa.errors import GlossaError
from glossa.numerics.nf4 import NF4_CODE_BOOK, nearest_nf4_index, nf4_quantize, normal_float_code
from glossa.numerics.quantize import absmax_quantize

# QLoRA appendix E; bitsandbytes csrc/kernels.cu
PUBLISHED_NF4 = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]  # fmt: skip


@pytest.fixture(scope="module")
def gaussian() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)


def test_code_book_is_the_published_one() -> None:
    assert NF4_CODE_BOOK.shape == (16,)
    assert np.max(np.abs(NF4_CODE_BOOK.astype(np.float64) - PUBLISHED_NF4)) <= 1e-7
    assert np.array_equal(NF4_CODE_BOOK, np.array(PUBLISHED_NF4, dtype=np.float32))


def test_quantile_construction_reproduces_the_published_code_book() -> None:
    derived = normal_float_code()
    assert np.max(np.abs(derived.astype(np.float64) - PUBLISHED_NF4)) <= 1e-7
    assert np.array_equal(derived, NF4_CODE_BOOK)  # bit for bit, in float32 as bitsandbytes builds it
    assert (derived > 0).sum() == 8 and (derived < 0).sum() == 7 and 0.0 in derived


def test_nearest_index_is_the_brute_force_nearest() -> None:
    values = np.random.default_rng(1).uniform(-1.2, 1.2, 20_000)
    brute = np.argmin(np.abs(values[:, None] - NF4_CODE_BOOK.astype(np.float64)[None, :]), axis=1)
    assert np.array_equal(nearest_nf4_index(values), brute)


def test_nf4_beats_int4_absmax_at_block_64_and_double_quantization_cuts_scale_cost(
    gaussian: np.ndarray,
) -> None:
    plain = nf4_quantize(gaussian, 64)
    double = nf4_quantize(gaussian, 64, double_quant=True)
    int4 = absmax_quantize(gaussian, 4, "block", 64)
    expected_overhead = 8 / 64 + 32 / (64 * 256)
    print(
        f"\nN(0,1), 2^20 values, block 64: MSE nf4 {plain.mse:.6f}, nf4 + double quant {double.mse:.6f}, "
        f"int4 absmax {int4.mse:.6f}"
        f"\nscale bits per weight: nf4 {plain.scale_bits_per_weight:.6f}, nf4 + double quant "
        f"{double.scale_bits_per_weight:.6f} (8/64 + 32/(64·256) = {expected_overhead:.6f}); "
        f"bits per weight {plain.bits_per_weight:.6f} → {double.bits_per_weight:.6f}"
    )
    assert plain.mse < int4.mse
    assert plain.scale_bits_per_weight == 0.5
    assert abs(double.scale_bits_per_weight - expected_overhead) < 0.001
    assert plain.mse <= double.mse * 1.001 and double.mse < plain.mse * 1.01  # only slightly worse
    assert np.array_equal(plain.indices, double.indices)  # the codes are the same; only the scales move


def test_reconstruction_is_code_value_times_block_absmax() -> None:
    weights = np.random.default_rng(2).standard_normal((10, 50))  # 500 values: 8 blocks, the last one padded
    result = nf4_quantize(weights, 64)
    flat = np.concatenate([weights.reshape(-1), np.zeros(12)]).reshape(-1, 64)
    absmax = np.max(np.abs(flat), axis=1).astype(np.float32)
    assert np.array_equal(result.scales, absmax)
    expected = NF4_CODE_BOOK[result.indices.reshape(-1)] * np.repeat(absmax, 64)[:500].astype(np.float64)
    assert np.array_equal(result.reconstruction.reshape(-1), expected)
    assert result.indices.max() <= 15 and result.reconstruction.shape == weights.shape
    assert np.all(np.abs(result.reconstruction) <= np.repeat(absmax, 64)[:500].reshape(10, 50))


def test_bad_arguments() -> None:
    with pytest.raises(GlossaError):
        nf4_quantize(np.ones(10), 0)
    with pytest.raises(GlossaError):
        nf4_quantize(np.array([np.inf]))

"""Absmax and zero-point quantization: error bounds, what granularity buys, overhead accounting, and
agreement with torch's (deprecated but still shipped) quantized tensors and min/max observers."""

import numpy as np
import pytest
import torch
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver

from glossa.errors import GlossaError
from glossa.numerics.quantize import absmax_quantize, zero_point_quantize

SCHEMES = [absmax_quantize, zero_point_quantize]
GRANULARITIES = ["tensor", "channel", "block"]
OUTLIER_ROWS = [3, 17, 40, 61]


def weights_with_outlier_rows(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((64, 256)).astype(np.float32)
    weights[OUTLIER_ROWS] *= 100
    return weights


@pytest.mark.parametrize("quantize", SCHEMES)
@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_error_is_at_most_half_a_step_per_element(quantize, bits: int, granularity: str) -> None:
    weights = weights_with_outlier_rows() + np.float32(0.3)
    result = quantize(weights, bits, granularity, block_size=48)  # 48 does not divide 64×256 rows: padding
    error = np.abs(result.reconstruction - weights)
    steps = result.element_scales().astype(np.float64)
    assert np.all(error <= steps / 2 * (1 + 1e-6) + 1e-12)
    assert result.codes.shape == weights.shape
    assert result.mse == pytest.approx(float(np.mean(error**2)))
    assert result.max_abs_error == pytest.approx(float(error.max()))


@pytest.mark.parametrize("quantize", SCHEMES)
@pytest.mark.parametrize("bits", [8, 4])
def test_per_block_and_per_channel_beat_per_tensor_when_rows_have_outliers(quantize, bits: int) -> None:
    weights = weights_with_outlier_rows()
    ordinary_rows = np.setdiff1d(np.arange(64), OUTLIER_ROWS)
    tensor = quantize(weights, bits, "tensor")
    for finer in (quantize(weights, bits, "block", block_size=64), quantize(weights, bits, "channel")):
        assert finer.mse < tensor.mse
        # the outliers no longer set the step for everyone else
        ordinary_error = lambda q: np.mean((q.reconstruction - weights)[ordinary_rows] ** 2)  # noqa: E731
        assert ordinary_error(finer) < ordinary_error(tensor) / 10


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_zero_point_beats_absmax_when_the_mean_is_not_zero(bits: int, granularity: str) -> None:
    weights = np.random.default_rng(1).normal(3.0, 1.0, (64, 256))
    assert (
        zero_point_quantize(weights, bits, granularity).mse
        < absmax_quantize(weights, bits, granularity).mse / 2
    )


def test_codes_ranges_and_dequantization() -> None:
    weights = weights_with_outlier_rows()
    symmetric = absmax_quantize(weights, 4, "block", 64)
    assert symmetric.codes.dtype == np.int8 and symmetric.codes.min() >= -7 and symmetric.codes.max() <= 7
    assert np.array_equal(
        symmetric.reconstruction, symmetric.codes * symmetric.element_scales().astype(np.float64)
    )
    asymmetric = zero_point_quantize(weights, 4, "channel")
    assert asymmetric.codes.dtype == np.uint8 and asymmetric.codes.max() <= 15
    assert asymmetric.zero_points is not None and asymmetric.zero_points.shape == (64,)
    zeros = np.zeros((4, 8))
    zeros[0, 0] = 1.0
    assert np.array_equal(zero_point_quantize(zeros, 8).reconstruction[1:], zeros[1:])  # 0.0 stays exact


def test_bits_per_weight_counts_scales_and_zero_points() -> None:
    weights = np.random.default_rng(2).standard_normal((32, 64))
    assert absmax_quantize(weights, 8, "tensor").bits_per_weight == 8 + 32 / 2048
    assert absmax_quantize(weights, 4, "block", 64).bits_per_weight == 4 + 32 / 64
    assert absmax_quantize(weights, 4, "channel").bits_per_weight == 4 + 32 / 64
    assert zero_point_quantize(weights, 4, "block", 64).bits_per_weight == 4 + (32 + 4) / 64
    padded_blocks = 21  # ceil(2048 / 100)
    assert zero_point_quantize(weights, 8, "block", 100).bits_per_weight == 8 + 40 * padded_blocks / 2048


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_zero_point_matches_torch_observer_and_quantize_per_tensor_and_channel() -> None:
    weights = (np.random.default_rng(3).standard_normal((64, 256)) + 0.7).astype(np.float32)
    ours = zero_point_quantize(weights, 8, "tensor")
    observer = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    observer(torch.from_numpy(weights))
    scale, zero_point = observer.calculate_qparams()
    assert ours.scales[0] == pytest.approx(scale.item(), rel=1e-6)  # torch divides in float32: one ulp apart
    assert ours.zero_points is not None and ours.zero_points[0] == zero_point.item()
    theirs = torch.quantize_per_tensor(
        torch.from_numpy(weights), float(ours.scales[0]), int(ours.zero_points[0]), torch.quint8
    )
    assert np.array_equal(theirs.int_repr().numpy(), ours.codes)

    ours = zero_point_quantize(weights, 8, "channel")
    observer = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine)
    observer(torch.from_numpy(weights))
    scales, zero_points = observer.calculate_qparams()
    assert np.allclose(ours.scales, scales.numpy(), rtol=1e-6)
    assert np.array_equal(ours.zero_points, zero_points.numpy())
    theirs = torch.quantize_per_channel(
        torch.from_numpy(weights),
        torch.from_numpy(ours.scales.astype(np.float64)),
        torch.from_numpy(ours.zero_points.astype(np.int64)),
        0,
        torch.quint8,
    )
    assert np.array_equal(theirs.int_repr().numpy(), ours.codes)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_absmax_codes_match_torch_quantize_per_channel_with_the_same_scales() -> None:
    weights = weights_with_outlier_rows(4)
    ours = absmax_quantize(weights, 8, "channel")
    theirs = torch.quantize_per_channel(
        torch.from_numpy(weights),
        torch.from_numpy(ours.scales.astype(np.float64)),
        torch.zeros(64, dtype=torch.int64),
        0,
        torch.qint8,
    )
    assert np.array_equal(theirs.int_repr().numpy(), ours.codes)


def test_bad_arguments_are_one_line_errors() -> None:
    weights = np.ones((4, 4))
    cases = [
        lambda: absmax_quantize(weights, 8, "block", 0),
        lambda: zero_point_quantize(weights, 8, "block", -3),
        lambda: absmax_quantize(np.array([1.0, np.nan]), 8),
        lambda: absmax_quantize(np.ones(8), 8, "channel"),
        lambda: absmax_quantize(weights, 1),
        lambda: absmax_quantize(np.array([]), 8),
        lambda: absmax_quantize(weights, 8, "row"),  # type: ignore[arg-type]
    ]
    for case in cases:
        with pytest.raises(GlossaError) as error:
            case()
        assert "\n" not in str(error.value)

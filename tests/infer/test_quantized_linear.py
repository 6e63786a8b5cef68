"""Int4/int8 weight-only linears of the `fast` precision against float32 references, and `prepare_model`."""

import numpy as np
import pytest
import torch
from torch import nn

from glossa.artifacts import smollm2_gguf
from glossa.errors import GlossaError
from glossa.formats.gguf import read_gguf
from glossa.formats.gguf_quants import dequantize
from glossa.infer.quantized import (
    GROUP_SIZE,
    Int4WeightOnlyLinear,
    Int8WeightOnlyLinear,
    RescoredInt4Head,
    fit_bf16_scale_and_zero,
    prepare_model,
)
from glossa.models.config import ModelConfig
from glossa.models.transformer import Transformer

BF16_EPS = 2.0**-8  # bf16 keeps 8 significant bits: relative rounding ≤ 2^-9, 2^-8 leaves room for sums


@pytest.fixture(scope="module")
def q4_1_down() -> tuple[np.ndarray, tuple[int, int], torch.Tensor]:
    """A real Q4_1 weight of SmolLM2 (ffn_down of layer 0, 576 x 1536): raw blocks and llama.cpp's floats."""
    with read_gguf(smollm2_gguf()) as gguf:
        info = gguf.tensors["blk.0.ffn_down.weight"]
        assert info.ggml_type.name == "Q4_1"
        raw = np.array(gguf.tensor_bytes(info.name)).reshape(info.shape[0], -1)
        weight = torch.from_numpy(dequantize(raw, info.ggml_type.type_id, info.shape))
    return raw, info.shape, weight


def test_int4pack_kernel_computes_q_minus_8_times_scale_plus_zero() -> None:
    generator = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 16, (64, 96), generator=generator)
    scales = torch.rand(64, 3, generator=generator) + 0.1
    zeros = torch.randn(64, 3, generator=generator)
    linear = Int4WeightOnlyLinear.from_codes(codes, scales, zeros)
    s, z = (t.bfloat16().float().repeat_interleave(GROUP_SIZE, 1) for t in (scales, zeros))
    expected = (codes.float() - 8) * s + z
    torch.testing.assert_close(linear.dequantized_weight(), expected.bfloat16().float(), rtol=0, atol=0)


def test_q4_1_blocks_map_onto_int4pack_to_bf16_rounding(q4_1_down) -> None:
    raw, shape, weight = q4_1_down
    linear = Int4WeightOnlyLinear.from_q4_1(raw, shape)
    # scale = d and zero = m + 8d are stored in bf16: each weight is off by at most a few bf16 ulps of
    # |d|·8 + |m + 8d|, far below the Q4_1 step d itself
    error = (linear.dequantized_weight() - weight).abs()
    blocks = raw.reshape(shape[0], -1, 20)
    d = torch.from_numpy(blocks[..., 0:2].copy().view("<f2")[..., 0].astype(np.float32)).abs()
    m = torch.from_numpy(blocks[..., 2:4].copy().view("<f2")[..., 0].astype(np.float32))
    bound = (2 * BF16_EPS * (8 * d + (m + 8 * d).abs())).repeat_interleave(GROUP_SIZE, 1)
    assert bool((error <= bound + 1e-7).all())
    assert float(error.max()) < 0.1 * float(d.max())


def test_int4_matmul_matches_dequantised_q4_1_within_bf16_activation_error(q4_1_down) -> None:
    raw, shape, weight = q4_1_down
    linear = Int4WeightOnlyLinear.from_q4_1(raw, shape)
    x = torch.randn(5, shape[1], generator=torch.Generator().manual_seed(1))
    expected = x @ weight.T
    scale = x.abs() @ weight.abs().T  # the size of the terms summed: bounds the rounding error
    error = (linear(x) - expected).abs()
    assert linear(x).dtype == torch.float32
    assert bool((error <= 4 * BF16_EPS * scale).all())


def test_our_int4_quantization_error_is_within_half_a_step() -> None:
    weight = torch.randn(48, 64, generator=torch.Generator().manual_seed(2))
    linear = Int4WeightOnlyLinear.from_float(weight)
    groups = weight.reshape(48, -1, GROUP_SIZE)
    step = ((groups.amax(-1) - groups.amin(-1)) / 15).repeat_interleave(GROUP_SIZE, 1)
    error = (linear.dequantized_weight() - weight).abs()
    assert bool((error <= 0.5 * step + 2 * BF16_EPS * weight.abs().amax()).all())


def test_concat_gives_the_parts_outputs_side_by_side_without_copying_their_codes() -> None:
    generator = torch.Generator().manual_seed(3)
    parts = [Int4WeightOnlyLinear.from_float(torch.randn(n, 64, generator=generator)) for n in (128, 64, 32)]
    x = torch.randn(2, 64, generator=generator)
    separate = torch.cat([p(x) for p in parts], dim=-1)
    fused = Int4WeightOnlyLinear.concat(parts)
    torch.testing.assert_close(fused(x), separate, rtol=0, atol=0)
    torch.testing.assert_close(torch.cat([p(x) for p in parts], dim=-1), separate, rtol=0, atol=0)
    storage = fused.packed.untyped_storage().data_ptr()
    assert all(p.packed.untyped_storage().data_ptr() == storage for p in parts)  # parts read the fused codes
    again = Int4WeightOnlyLinear.concat(parts)
    assert again.packed.data_ptr() == fused.packed.data_ptr()
    torch.testing.assert_close(again(x), separate, rtol=0, atol=0)


def test_concat_refuses_parts_that_split_a_packing_tile() -> None:
    parts = [Int4WeightOnlyLinear.from_float(torch.randn(n, 64)) for n in (32, 32)]
    with pytest.raises(GlossaError, match="tiles of 64"):
        Int4WeightOnlyLinear.concat(parts)


def _q4_1_parts(raw: np.ndarray, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    blocks = raw.reshape(shape[0], -1, 20)
    d = torch.from_numpy(blocks[..., 0:2].copy().view("<f2")[..., 0].astype(np.float32))
    m = torch.from_numpy(blocks[..., 2:4].copy().view("<f2")[..., 0].astype(np.float32))
    packed = blocks[..., 4:]
    codes = torch.from_numpy(np.concatenate([packed & 0x0F, packed >> 4], axis=-1).reshape(shape))
    return codes, d, m


def test_fitted_bf16_scales_are_never_worse_than_rounding_each_alone(q4_1_down) -> None:
    raw, shape, weight = q4_1_down
    codes, d, m = _q4_1_parts(raw, shape)
    groups = weight.reshape(shape[0], -1, GROUP_SIZE)
    q = codes.reshape(groups.shape).float() - 8

    def group_errors(scales: torch.Tensor, zeros: torch.Tensor) -> torch.Tensor:
        return (q * scales[..., None] + zeros[..., None] - groups).square().sum(-1)

    rounded = group_errors(d.bfloat16().float(), (m + 8 * d).bfloat16().float())
    scales, zeros = fit_bf16_scale_and_zero(codes, d, m)
    fitted = group_errors(scales, zeros)
    assert torch.equal(scales, scales.bfloat16().float()) and torch.equal(zeros, zeros.bfloat16().float())
    assert bool((fitted <= rounded * (1 + 1e-5) + 1e-12).all())
    assert float(fitted.sum()) < 0.95 * float(rounded.sum())


def test_int4_from_rows_in_chunks_equals_quantizing_the_whole_matrix() -> None:
    weight = torch.randn(320, 64, generator=torch.Generator().manual_seed(7))
    whole = Int4WeightOnlyLinear.from_float(weight)
    chunked = Int4WeightOnlyLinear.from_rows(lambda start, stop: weight[start:stop], (320, 64), 128)
    assert torch.equal(chunked.packed, whole.packed)
    assert torch.equal(chunked.scales_and_zeros, whole.scales_and_zeros)


def test_rescored_head_top_k_logits_are_the_float_heads() -> None:
    generator = torch.Generator().manual_seed(4)
    weight = torch.randn(512, 96, generator=generator) * 0.05
    x = torch.randn(70, 96, generator=generator)  # more rows than one rescoring chunk
    head = RescoredInt4Head.from_table(nn.Embedding.from_pretrained(weight), (512, 96), top_k=8)
    expected = x @ weight.T
    logits = head(x)
    assert logits.dtype == torch.float32 and logits.shape == (70, 512)
    assert torch.equal(logits.argmax(-1), expected.argmax(-1))
    exact = (logits - expected).abs() <= 1e-5  # the 8 rescored logits of each row (or more, by chance)
    assert bool((exact.sum(-1) >= 8).all())
    assert bool(exact.gather(-1, expected.argmax(-1, keepdim=True)).all())
    # the rest is the int4 approximation: weight error ≤ half a step of the group (plus bf16 scales), plus
    # bf16 activations and output
    groups = weight.reshape(512, -1, GROUP_SIZE)
    step = ((groups.amax(-1) - groups.amin(-1)) / 15).repeat_interleave(GROUP_SIZE, 1)
    bound = x.abs() @ (0.6 * step).T + 4 * BF16_EPS * (x.abs() @ weight.abs().T)
    assert bool(((logits - expected).abs() <= bound).all())


def test_int8_head_matches_float_logits_within_its_stated_error() -> None:
    generator = torch.Generator().manual_seed(5)
    weight = torch.randn(512, 96, generator=generator) * 0.05
    x = torch.randn(3, 96, generator=generator)
    expected = x @ weight.T
    size = x.abs() @ weight.abs().T
    head = Int8WeightOnlyLinear.from_float(weight)
    # weight error (≤ 1/254 of the row's range) plus bf16 activations
    assert bool(((head(x) - expected).abs() <= (1 / 127 + 4 * BF16_EPS) * size).all())


def _tiny_llama() -> Transformer:
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=96, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=128)
    return Transformer(config).eval()


def test_prepare_model_fast_swaps_projections_and_keeps_logits_close() -> None:
    model = _tiny_llama()
    ids = torch.randint(0, 96, (1, 12), generator=torch.Generator().manual_seed(6))
    with torch.inference_mode():
        reference = model(ids).logits
        fast = prepare_model(model, "fast")
        logits = fast(ids).logits
    assert isinstance(fast.layers[1].ffn.down, Int4WeightOnlyLinear)
    assert isinstance(fast.head, RescoredInt4Head) and fast.head.table is fast.embed  # tied: no copy
    assert float((logits - reference).abs().max()) < 0.1 * float(reference.abs().max())


def test_prepare_model_exact_leaves_the_model_alone() -> None:
    model = _tiny_llama()
    q = model.layers[0].attn.q
    assert prepare_model(model, "exact").layers[0].attn.q is q


def test_unknown_precision_is_a_glossa_error() -> None:
    with pytest.raises(GlossaError, match="unknown precision"):
        prepare_model(_tiny_llama(), "int3")

"""Our GGUF dequantizer against the `gguf` package (gguf-py, llama.cpp's Python reader): bit-exact float32.

Three sources of blocks: every tensor of the real SmolLM2 file (Q4_1, Q8_0, F32), tensors the `gguf` package
quantizes itself (Q4_0, Q4_1, Q8_0, BF16, F16), and random blocks built byte by byte for the k-quants the
package can only read (Q4_K, Q5_K, Q6_K) and for every other type too, so scale/min fields with any value,
NaN and infinity included, are read identically.
"""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize as reference_dequantize
from gguf.quants import quantize as reference_quantize

from glossa.artifacts import smollm2_gguf
from glossa.errors import GlossaError
from glossa.formats.gguf import GGML_TYPES, read_gguf
from glossa.formats.gguf_quants import FORMATS, block_size, bytes_per_block, dequantize

TYPES = {fmt.name: fmt.type_id for fmt in FORMATS.values()}
QUANTIZABLE = ["Q4_0", "Q4_1", "Q8_0", "BF16", "F16", "F32"]


def same_floats(ours: np.ndarray, reference: np.ndarray) -> bool:
    """Bit-exact float32 equality, except that any NaN equals any NaN (payloads may differ)."""
    reference = np.asarray(reference, dtype=np.float32)
    if ours.dtype != np.float32 or ours.shape != reference.shape:
        return False
    both_nan = np.isnan(ours) & np.isnan(reference)
    return bool(np.all((ours.view(np.uint32) == reference.view(np.uint32)) | both_nan))


@pytest.fixture(scope="module")
def smollm2_tensors():
    reader = GGUFReader(str(smollm2_gguf()))
    return [
        (tensor.name, tensor.data, int(tensor.tensor_type), tuple(int(dim) for dim in reversed(tensor.shape)))
        for tensor in reader.tensors
    ]


def test_every_smollm2_tensor_is_bit_exact(smollm2_tensors):
    seen = set()
    for name, data, ggml_type, shape in smollm2_tensors:
        ours = dequantize(data, ggml_type, shape)
        reference = reference_dequantize(data, GGMLQuantizationType(ggml_type)).reshape(shape)
        assert same_floats(ours, reference), name
        seen.add(FORMATS[ggml_type].name)
    assert seen == {"Q4_1", "Q8_0", "F32"}
    assert len(smollm2_tensors) == 272


def test_our_reader_hands_the_same_bytes_and_shapes(smollm2_tensors):
    with read_gguf(smollm2_gguf()) as model:
        for name, data, ggml_type, shape in smollm2_tensors[:12]:
            info = model.tensors[name]
            assert (info.ggml_type.type_id, info.shape) == (ggml_type, shape)
            raw = model.tensor_bytes(name)
            assert raw.tobytes() == data.tobytes()
            assert same_floats(dequantize(raw, ggml_type, shape), dequantize(data, ggml_type, shape))
            del raw


def weights_to_quantize(seed: int) -> np.ndarray:
    """Rows with very different scales, an all-zero block, a constant block and a lone outlier."""
    rng = np.random.default_rng(seed)
    weights = (
        rng.standard_normal((6, 512)).astype(np.float32) * np.logspace(-4, 2, 6, dtype=np.float32)[:, None]
    )
    weights[1, :32] = 0.0
    weights[2, 32:64] = 0.75
    weights[3, 100] = 1e4
    return weights


@pytest.mark.parametrize("type_name", QUANTIZABLE)
@pytest.mark.parametrize("seed", [0, 1])
def test_tensors_quantized_by_the_gguf_package(type_name, seed):
    qtype = GGMLQuantizationType[type_name]
    weights = weights_to_quantize(seed)
    packed = reference_quantize(weights, qtype)
    ours = dequantize(packed, qtype, weights.shape)
    assert same_floats(ours, reference_dequantize(packed, qtype).reshape(weights.shape))
    assert np.abs(ours - weights).max() <= np.abs(weights).max() * 0.1  # it really is the weights, coarsely


FP16_FIELDS = {"Q4_0": [0], "Q4_1": [0, 2], "Q8_0": [0], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}


def random_blocks(type_name: str, n_blocks: int, seed: int, finite_scales: bool) -> np.ndarray:
    """`n_blocks` blocks of random bytes; with `finite_scales`, each fp16 scale is moderate and finite."""
    _, type_size = GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    if finite_scales:
        for start in FP16_FIELDS.get(type_name, []):
            scales = rng.uniform(-2.0, 2.0, size=(n_blocks, 1)).astype(np.float16)
            raw[:, start : start + 2] = scales.view(np.uint8)
    return raw


@pytest.mark.parametrize("type_name", list(TYPES))
@pytest.mark.parametrize("finite_scales", [True, False])
def test_random_blocks_byte_by_byte(type_name, finite_scales):
    qtype = GGMLQuantizationType[type_name]
    block, _ = GGML_QUANT_SIZES[qtype]
    raw = random_blocks(type_name, 3 * 64, seed=len(type_name) + finite_scales, finite_scales=finite_scales)
    shape = (3, 64 * block)
    ours = dequantize(raw.reshape(3, -1), qtype, shape)
    with np.errstate(invalid="ignore", over="ignore"):  # random scales may be NaN or infinite
        reference = reference_dequantize(raw.reshape(3, -1), qtype).reshape(shape)
    assert same_floats(ours, reference)
    if finite_scales and block > 1:
        assert np.isfinite(ours).all()


def test_a_hand_built_q4_0_block_reads_as_documented():
    """d = 0.5; byte j holds code j (low nibble) and code 15 - j (high nibble): weights j - 8, then 7 - j."""
    codes = np.arange(16, dtype=np.uint8)
    block = np.float16(0.5).tobytes() + bytes((codes | ((15 - codes) << 4)).tolist())
    weights = dequantize(block, TYPES["Q4_0"], (32,))
    expected = 0.5 * np.concatenate([codes.astype(np.float32) - 8, 7 - codes.astype(np.float32)])
    assert np.array_equal(weights, expected)


def test_a_hand_built_q4_k_block_reads_as_documented():
    """Sub-block j: scale j + 1 and min j, d = 1, dmin = 0.25; every code 3 (low nibbles) or 12 (high)."""
    scales, mins = np.arange(1, 9), np.arange(8)
    packed = np.zeros(12, dtype=np.uint8)
    packed[0:4] = scales[:4] | ((scales[4:] >> 4) << 6)
    packed[4:8] = mins[:4] | ((mins[4:] >> 4) << 6)
    packed[8:12] = (scales[4:] & 0x0F) | ((mins[4:] & 0x0F) << 4)
    block = np.float16(1).tobytes() + np.float16(0.25).tobytes() + packed.tobytes() + bytes([0xC3] * 128)
    weights = dequantize(block, TYPES["Q4_K"], (256,)).reshape(8, 32)
    codes = np.where(np.arange(8) % 2 == 0, 3, 12)
    assert np.array_equal(weights, np.repeat((scales * codes - 0.25 * mins)[:, None], 32, axis=1))


def test_inputs_bytes_memoryview_and_arrays_agree_and_result_is_writable():
    raw = random_blocks("Q8_0", 8, seed=5, finite_scales=True)
    expected = dequantize(raw, TYPES["Q8_0"], (2, 128))
    for form in (raw.tobytes(), bytearray(raw.tobytes()), memoryview(raw.tobytes()), raw.reshape(-1)):
        assert np.array_equal(dequantize(form, TYPES["Q8_0"], (2, 128)), expected)
    read_only = raw.copy()
    read_only.flags.writeable = False
    result = dequantize(read_only, TYPES["Q8_0"], [2, 128])
    assert result.flags.writeable and result.dtype == np.float32 and result.shape == (2, 128)


def test_block_sizes_match_ggml_and_our_reader():
    for fmt in FORMATS.values():
        reference = GGML_QUANT_SIZES[GGMLQuantizationType(fmt.type_id)]
        assert (block_size(fmt.type_id), bytes_per_block(fmt.type_id)) == reference
        assert GGML_TYPES[fmt.type_id].name == fmt.name
        assert (GGML_TYPES[fmt.type_id].block_size, GGML_TYPES[fmt.type_id].type_size) == reference
    assert FORMATS[TYPES["Q4_1"]].bits_per_weight == 5.0


@pytest.mark.parametrize(
    ("raw", "ggml_type", "shape", "message"),
    [
        (b"\0" * 18, 6, (32,), "cannot dequantize ggml type 6"),  # Q5_0: a real ggml type we do not read
        (b"\0" * 18, 999, (32,), "cannot dequantize ggml type 999"),
        (b"\0" * 17, 2, (32,), "takes 18 bytes, but 17 were given"),
        (b"\0" * 36, 2, (32,), "takes 18 bytes, but 36 were given"),
        (b"\0" * 18, 2, (2, 16), "multiple of its block size 32"),
        (b"\0" * 8, 0, (3,), "takes 12 bytes, but 8 were given"),
        (b"\0" * 8, 0, (-2,), "negative dimension"),
        ("not bytes", 0, (2,), "must be bytes"),
        (np.array([None, None], dtype=object), 0, (2,), "object array"),
    ],
)
def test_mistakes_are_glossa_errors(raw, ggml_type, shape, message):
    with pytest.raises(GlossaError, match=message):
        dequantize(raw, ggml_type, shape)

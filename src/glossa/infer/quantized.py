"""The `fast` precision: int4 weight-only projections, an int8-grade output head, bf16 activations.

Decoding one token reads every weight once and does only two flops per weight read, so at batch 1 it is
memory-bound: the time per token is about (bytes of weights) / (memory bandwidth). Storing the weights in
4 bits instead of 32 reads 8x fewer bytes. The kernels are torch's own CPU kernels:

- `aten._weight_int4pack_mm_for_cpu(x, packed, 32, scales_and_zeros)`: weights packed two codes per byte,
  one (scale, zero) pair per 32 weights of a row (group size 32), and the weight it uses is

      w = (q - 8) * scale + zero          q in 0..15   (checked by experiment, see the tests)

  It is fast only with bf16 activations (~25x slower with fp32 ones), and its scales must have the
  activations' dtype, so this path computes in bf16 and casts back.
- the tied output head (49152 x 576, the largest matrix of SmolLM2: in fp32 it alone costs ~11 ms a token)
  would be `aten._weight_int8pack_mm` (int8, one scale per row), but on these CPUs that kernel is ~10x
  slower than int4pack on the same shape (measured: 21 ms vs 2 ms for 1 x 576 x 49152). So the head is
  `ResidualInt4Linear`: W ≈ A + B, A = W in group-32 int4, B = A's error in group-32 int4 again, run as
  one int4pack matmul over [x, x]: int8-grade precision at int4 speed. `Int8WeightOnlyLinear` stays
  available (and tested) for CPUs where int8pack is fast.

**Q4_1 maps exactly onto int4pack.** A GGUF Q4_1 block stores fp16 d and m and 32 codes q in 0..15 with
w = d*q + m = (q - 8)*d + (m + 8d), so scale = d and zero = m + 8d, with the very same codes: no
re-quantization. The only rounding is storing d and m + 8d in bf16 (the kernel's dtype) plus the bf16
activations; `exact` keeps the dequantised float32 weights and is the reference.
Weights that are not Q4_1 (an fp32 checkpoint) are quantized here with the same group-32 asymmetric scheme:
scale = (max - min) / 15, zero chosen so the group's min is exactly representable.

`prepare_model(model, "fast")` swaps the linear layers in place (the engine's runner calls whatever module
is there); `load_fast_model(source)` builds the `fast` model straight from a GGUF's blocks without ever
materialising the 540 MB float32 model (peak memory is what bounds a small server).

    >>> model = prepare_model(load_model("smollm2"), "fast")
    >>> type(model.layers[0].attn.q).__name__
    'Int4WeightOnlyLinear'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from glossa.errors import GlossaError
from glossa.formats.gguf import read_gguf
from glossa.formats.gguf_quants import dequantize
from glossa.models.gguf_weights import (
    F32,
    QuantizedTensor,
    config_from_gguf,
    gguf_parameter_names,
    unpermute_rows,
)
from glossa.models.loading import resolve
from glossa.models.transformer import Transformer

PRECISIONS = ("fast", "exact")
GROUP_SIZE = 32
PACK_TILE_ROWS = 64  # int4pack_for_cpu packs rows in tiles of 64
ACTIVATION_DTYPE = torch.bfloat16
Q4_1_BLOCK_BYTES = 20
Q8_0_BLOCK_BYTES = 34
PROJECTIONS = ("attn.q", "attn.k", "attn.v", "attn.o", "ffn.gate", "ffn.up", "ffn.down")


def quantize_groups(weight: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Group-32 asymmetric int4: codes (out, in) in 0..15, scales and zeros (out, in/32) already rounded
    to the kernel's bf16, with w ≈ (q - 8)·scale + zero. scale = (max - min)/15 and zero = min + 8·scale,
    so each group's min and max are (up to rounding) on the grid."""
    out_features, in_features = weight.shape
    if in_features % GROUP_SIZE:
        raise GlossaError(f"int4 weights need an input width divisible by {GROUP_SIZE}, not {in_features}")
    groups = weight.detach().float().reshape(out_features, -1, GROUP_SIZE)
    low, high = groups.amin(-1), groups.amax(-1)
    scales = ((high - low) / 15).clamp_min(1e-8).to(ACTIVATION_DTYPE).float()
    zeros = (low + 8 * scales).to(ACTIVATION_DTYPE).float()
    codes = torch.round((groups - zeros[..., None]) / scales[..., None] + 8).clamp_(0, 15)
    return codes.reshape(out_features, in_features), scales, zeros


def dequantize_groups(codes: Tensor, scales: Tensor, zeros: Tensor) -> Tensor:
    groups = (codes.reshape(codes.shape[0], -1, GROUP_SIZE) - 8) * scales[..., None] + zeros[..., None]
    return groups.reshape(codes.shape)


class Int4WeightOnlyLinear(nn.Module):
    """y = x Wᵀ with W stored as int4 codes in groups of 32 (torch's int4pack layout) and bf16 activations."""

    def __init__(self, packed: Tensor, scales_and_zeros: Tensor, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("packed", packed)
        self.register_buffer("scales_and_zeros", scales_and_zeros)  # (in/32, out, 2) bf16

    @classmethod
    def from_codes(cls, codes: Tensor, scales: Tensor, zeros: Tensor) -> Int4WeightOnlyLinear:
        """codes (out, in) ints in 0..15; scales, zeros (out, in/32): w = (q - 8) * scale + zero."""
        out_features, in_features = codes.shape
        if in_features % GROUP_SIZE:
            raise GlossaError(
                f"int4 weights need an input width divisible by {GROUP_SIZE}, not {in_features}"
            )
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes.to(torch.int32).contiguous(), 1)
        scales_and_zeros = torch.stack([scales.t(), zeros.t()], dim=-1).to(ACTIVATION_DTYPE).contiguous()
        return cls(packed, scales_and_zeros, in_features, out_features)

    @classmethod
    def from_q4_1(cls, raw: np.ndarray, shape: tuple[int, int]) -> Int4WeightOnlyLinear:
        """From GGUF Q4_1 blocks `raw` (rows, bytes per row) of a weight of shape (out, in): same codes,
        scale = d, zero = m + 8d."""
        out_features, in_features = shape
        blocks = np.ascontiguousarray(raw).reshape(out_features, in_features // GROUP_SIZE, Q4_1_BLOCK_BYTES)
        d = blocks[..., 0:2].copy().view("<f2")[..., 0].astype(np.float32)
        m = blocks[..., 2:4].copy().view("<f2")[..., 0].astype(np.float32)
        packed = blocks[..., 4:]  # (out, groups, 16): code j in the low nibble of byte j, 16+j in the high
        codes = np.concatenate([packed & 0x0F, packed >> 4], axis=-1).reshape(out_features, in_features)
        return cls.from_codes(torch.from_numpy(codes), torch.from_numpy(d), torch.from_numpy(m + 8 * d))

    @classmethod
    def from_float(cls, weight: Tensor) -> Int4WeightOnlyLinear:
        """Our own group-32 asymmetric int4 quantization of a float weight (out, in)."""
        return cls.from_codes(*quantize_groups(weight))

    @classmethod
    def concat(cls, parts: list[Int4WeightOnlyLinear]) -> Int4WeightOnlyLinear:
        """One linear whose outputs are the parts' outputs side by side (fused Q/K/V, gate+up). The CPU
        packing interleaves rows in tiles of 64 (found by experiment), so packed rows concatenate only when
        every part but the last has a multiple of 64 rows."""
        if not cls.can_concat(parts):
            raise GlossaError(f"int4 linears concatenate only in whole tiles of {PACK_TILE_ROWS} rows")
        packed = torch.cat([p.packed for p in parts], dim=0)
        scales_and_zeros = torch.cat([p.scales_and_zeros for p in parts], dim=1)
        return cls(packed, scales_and_zeros, parts[0].in_features, sum(p.out_features for p in parts))

    @staticmethod
    def can_concat(parts: list[nn.Module]) -> bool:
        return all(isinstance(p, Int4WeightOnlyLinear) for p in parts) and all(
            p.out_features % PACK_TILE_ROWS == 0 for p in parts[:-1]
        )

    def dequantized_weight(self) -> Tensor:
        """The float32 weight (out, in) the kernel uses (read back through the kernel, on the identity)."""
        eye = torch.eye(self.in_features, dtype=ACTIVATION_DTYPE)
        return self._mm(eye).float().t().contiguous()

    def _mm(self, x2d: Tensor) -> Tensor:
        return torch.ops.aten._weight_int4pack_mm_for_cpu(x2d, self.packed, GROUP_SIZE, self.scales_and_zeros)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        y = self._mm(x.reshape(-1, shape[-1]).to(ACTIVATION_DTYPE))
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, group_size={GROUP_SIZE}"


class Int8WeightOnlyLinear(nn.Module):
    """y = x Wᵀ with W stored as int8 with one scale per output row (symmetric): the tied output head.

    Per-row error: each weight is off by at most scale/2 = max|row| / 254."""

    def __init__(self, weight: Tensor, scales: Tensor) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.register_buffer("weight", weight)  # int8 (out, in)
        self.register_buffer("scales", scales)  # float32 (out,)
        self.register_buffer("scales_bf16", scales.to(ACTIVATION_DTYPE))

    @classmethod
    def from_float(cls, weight: Tensor, rows_per_chunk: int = 4096) -> Int8WeightOnlyLinear:
        return cls.from_rows(
            lambda start, stop: weight[start:stop].detach().float(), weight.shape, rows_per_chunk
        )

    @classmethod
    def from_rows(cls, rows, shape: tuple[int, int], rows_per_chunk: int = 4096) -> Int8WeightOnlyLinear:
        """Quantize chunk by chunk (`rows(start, stop)` -> float rows) so no full float copy ever exists."""
        out_features, in_features = shape
        codes = torch.empty(out_features, in_features, dtype=torch.int8)
        scales = torch.empty(out_features)
        for start in range(0, out_features, rows_per_chunk):
            stop = min(start + rows_per_chunk, out_features)
            chunk = rows(start, stop)
            scale = (chunk.abs().amax(-1) / 127).clamp_min(1e-12)
            codes[start:stop] = torch.round(chunk / scale[:, None]).clamp_(-127, 127).to(torch.int8)
            scales[start:stop] = scale
        return cls(codes, scales)

    def dequantized_weight(self) -> Tensor:
        return self.weight.float() * self.scales[:, None]

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x2d = x.reshape(-1, shape[-1]).to(ACTIVATION_DTYPE)
        y = torch.ops.aten._weight_int8pack_mm(x2d, self.weight, self.scales_bf16)
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)


class ResidualInt4Linear(nn.Module):
    """An ~8-bit-accurate linear from two int4 passes: W ≈ A + B, where A is W in group-32 int4 and B is
    A's error (W − A) in group-32 int4 again. Both go into ONE int4pack matmul over [x, x] (the codes of A
    and B side by side along the input), so it costs a single kernel call of twice the width.

    Why not int8: on these CPUs torch's `_weight_int8pack_mm` at 1 x 576 x 49152 is ~10x slower than the
    int4pack kernel on the same shape (measured: benchmarks/inference.py prints both), so for the output
    head two int4 passes are both faster and about as precise as int8 (the error is the second pass's
    rounding: ≤ scale_B / 2 ≈ (max − min) / 450 per group)."""

    def __init__(self, inner: Int4WeightOnlyLinear) -> None:
        super().__init__()
        self.inner = inner
        self.in_features, self.out_features = inner.in_features // 2, inner.out_features

    @classmethod
    def from_rows(cls, rows, shape: tuple[int, int], rows_per_chunk: int = 1024) -> ResidualInt4Linear:
        """Quantize chunk by chunk (`rows(start, stop)` -> float rows): no full float copy ever exists."""
        out_features, in_features = shape
        # written chunk by chunk (whole packing tiles) into the final buffers: no full-size temporary
        packed = torch.empty(out_features, in_features, dtype=torch.uint8)  # 2·in codes, two per byte
        scales_and_zeros = torch.empty(2 * in_features // GROUP_SIZE, out_features, 2, dtype=ACTIVATION_DTYPE)
        for start in range(0, out_features, rows_per_chunk):
            stop = min(start + rows_per_chunk, out_features)
            chunk = rows(start, stop).float()
            codes_a, scales_a, zeros_a = quantize_groups(chunk)
            codes_b, scales_b, zeros_b = quantize_groups(
                chunk - dequantize_groups(codes_a, scales_a, zeros_a)
            )
            piece = Int4WeightOnlyLinear.from_codes(
                torch.cat([codes_a, codes_b], dim=1),
                torch.cat([scales_a, scales_b], dim=1),
                torch.cat([zeros_a, zeros_b], dim=1),
            )
            packed[start:stop] = piece.packed
            scales_and_zeros[:, start:stop] = piece.scales_and_zeros
        return cls(Int4WeightOnlyLinear(packed, scales_and_zeros, 2 * in_features, out_features))

    @classmethod
    def from_float(cls, weight: Tensor) -> ResidualInt4Linear:
        return cls.from_rows(lambda start, stop: weight[start:stop].detach(), tuple(weight.shape))

    def dequantized_weight(self) -> Tensor:
        both = self.inner.dequantized_weight()
        return both[:, : self.in_features] + both[:, self.in_features :]

    def forward(self, x: Tensor) -> Tensor:
        return self.inner(torch.cat([x, x], dim=-1))


class Q8Embedding(nn.Module):
    """A token-embedding table kept as GGUF Q8_0 (int8 codes, one fp16 scale per 32): a lookup dequantises
    only the rows it reads, to exactly llama.cpp's float32 values (a quarter of the float table's memory)."""

    def __init__(self, codes: Tensor, block_scales: Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", codes)  # int8 (vocab, dim); named weight: callers ask for its device
        self.register_buffer("block_scales", block_scales)  # float32 (vocab, dim/32)

    @classmethod
    def from_q8_0(cls, raw: np.ndarray, shape: tuple[int, int]) -> Q8Embedding:
        rows, dim = shape
        blocks = np.ascontiguousarray(raw).reshape(rows, dim // GROUP_SIZE, Q8_0_BLOCK_BYTES)
        scales = blocks[..., 0:2].copy().view("<f2")[..., 0].astype(np.float32)
        codes = np.ascontiguousarray(blocks[..., 2:]).view(np.int8).reshape(rows, dim)
        return cls(torch.from_numpy(codes), torch.from_numpy(scales))

    def rows(self, start: int, stop: int) -> Tensor:
        codes = self.weight[start:stop].float().reshape(stop - start, -1, GROUP_SIZE)
        return (codes * self.block_scales[start:stop, :, None]).reshape(stop - start, -1)

    def forward(self, ids: Tensor) -> Tensor:
        codes = self.weight[ids].float().reshape(*ids.shape, -1, GROUP_SIZE)
        return (codes * self.block_scales[ids][..., None]).flatten(-2)


def _swap_projections(model: Transformer, make) -> None:
    for index, block in enumerate(model.layers):
        for path in PROJECTIONS:
            parent_name, child = path.split(".")
            parent = getattr(block, parent_name)
            if getattr(parent, child, None) is None:
                continue
            setattr(parent, child, make(f"layers.{index}.{path}.weight", getattr(parent, child)))


def prepare_model(model: Transformer, precision: str = "fast") -> Transformer:
    """The model set up for a precision, in place: `exact` (float32 dequantised weights, what transformers
    computes) or `fast` (int4 projections from the GGUF's own Q4_1 blocks, residual-int4 head, bf16
    activations; norms, softmax and the residual stream stay float32)."""
    if precision not in PRECISIONS:
        raise GlossaError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "exact" or isinstance(model.layers[0].attn.q, Int4WeightOnlyLinear):
        return model
    if model.config.architecture != "decoder" or any(
        getattr(linear, "bias", None) is not None for block in model.layers for linear in (block.attn.q,)
    ):
        raise GlossaError("the fast precision covers bias-free decoder models (Llama family); use 'exact'")

    def make(name: str, linear: nn.Module) -> nn.Module:
        quantized: QuantizedTensor | None = model.quantized_weights.get(name)
        if quantized is not None and quantized.type_name == "Q4_1":
            return Int4WeightOnlyLinear.from_q4_1(quantized.raw, quantized.shape)
        return Int4WeightOnlyLinear.from_float(linear.weight)

    _swap_projections(model, make)
    if model.head is not None:
        model.head = ResidualInt4Linear.from_float(model.head.weight)
    return model


def load_fast_model(source: str | Path = "smollm2") -> Transformer:
    """The `fast` model built straight from a GGUF file's blocks: Q4_1 projections become int4pack without
    a float copy, the Q8_0 embedding stays Q8_0 and gives the residual-int4 head (quantized chunk by chunk
    from its rows), only the norms are float32."""
    path = resolve(source)
    with read_gguf(path) as gguf:
        config = config_from_gguf(gguf.metadata, set(gguf.tensors))
        if config.architecture != "decoder" or config.bias:
            raise GlossaError("load_fast_model reads bias-free Llama-family GGUF files; use load_model")
        names = {ours: theirs for theirs, ours in gguf_parameter_names(config, set(gguf.tensors)).items()}
        with torch.device("meta"):
            model = Transformer(config)

        def raw(name: str) -> tuple[np.ndarray, int, tuple[int, ...]]:
            info = gguf.tensors[names[name]]
            data = gguf.tensor_bytes(names[name])
            if len(info.shape) == 2:
                data = data.reshape(info.shape[0], -1)
                kind = name.split(".", 2)[-1]
                heads = {"attn.q.weight": config.n_heads, "attn.k.weight": config.kv_heads}.get(kind)
                if heads is not None:
                    data = unpermute_rows(data, heads)
            return data, info.ggml_type.type_id, info.shape  # every user copies what it keeps

        def make(name: str, linear: nn.Module) -> nn.Module:
            data, type_id, shape = raw(name)
            if gguf.tensors[names[name]].ggml_type.name == "Q4_1":
                return Int4WeightOnlyLinear.from_q4_1(data, shape)
            return Int4WeightOnlyLinear.from_float(torch.from_numpy(dequantize(data, type_id, shape)))

        _swap_projections(model, make)
        for name in names:  # the norms: small float32 vectors
            if (
                gguf.tensors[names[name]].ggml_type.type_id == F32
                and len(gguf.tensors[names[name]].shape) == 1
            ):
                module_path, _, attribute = name.rpartition(".")
                data, type_id, shape = raw(name)
                tensor = torch.from_numpy(dequantize(data, type_id, shape))
                setattr(
                    model.get_submodule(module_path), attribute, nn.Parameter(tensor, requires_grad=False)
                )
        data, type_id, shape = raw("embed.weight")
        if gguf.tensors[names["embed.weight"]].ggml_type.name == "Q8_0":
            model.embed = Q8Embedding.from_q8_0(data, shape)
            rows = model.embed.rows
        else:
            table = torch.from_numpy(dequantize(data, type_id, shape))
            model.embed = nn.Embedding.from_pretrained(table, freeze=True)
            rows = lambda start, stop: table[start:stop]  # noqa: E731
        if config.tie_embeddings:
            model.head = ResidualInt4Linear.from_rows(rows, shape)
        else:
            head_data, head_type, head_shape = raw("head.weight")
            table = torch.from_numpy(dequantize(head_data, head_type, head_shape))
            model.head = ResidualInt4Linear.from_float(table)
    leftover = [name for name, p in model.named_parameters() if p.device.type == "meta"]
    if leftover:
        raise GlossaError(f"the fast loader left weights unset: {leftover[:3]}")
    model.reset_buffers("cpu")
    return model.eval()

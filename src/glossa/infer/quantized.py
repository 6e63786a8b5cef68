"""The `fast` precision: int4 weight-only projections, an int4 head rescored exactly, bf16 activations.

Decoding one token reads every weight once and does only two flops per weight read, so at batch 1 it is
memory-bound: the time per token is about (bytes of weights) / (memory bandwidth). Storing the weights in
4 bits instead of 32 reads 8x fewer bytes. The kernel is torch's own CPU kernel:

- `aten._weight_int4pack_mm_for_cpu(x, packed, 32, scales_and_zeros)`: weights packed two codes per byte,
  one (scale, zero) pair per 32 weights of a row (group size 32), and the weight it uses is

      w = (q - 8) * scale + zero          q in 0..15   (checked by experiment, see the tests)

  It is fast only with bf16 activations (~25x slower with fp32 or fp16 ones), its scales must have the
  activations' dtype, and its output is bf16 too, so this path computes the matmuls in bf16 and casts back.

**Q4_1 maps exactly onto int4pack.** A GGUF Q4_1 block stores fp16 d and m and 32 codes q in 0..15 with
w = d*q + m = (q - 8)*d + (m + 8d), so scale = d and zero = m + 8d, with the very same codes: no
re-quantization. The only rounding is storing scale and zero in bf16 (8 significant bits, the fp16 d has
11); `fit_bf16_scale_and_zero` picks, per group, the pair on the bf16 grid that is closest in least squares
to the group's true weights rather than rounding each alone (14% less squared weight error on SmolLM2).
Weights that are not Q4_1 (an fp32 checkpoint) are quantized here with the same group-32 asymmetric scheme:
scale = (max - min) / 15, zero chosen so the group's min is exactly representable.

**The output head decides the argmax, so it is rescored.** The head's logits come out of the kernel in bf16,
whose step at a logit of 16 is 0.125, while the top-2 logits of SmolLM2 on text are closer than 0.013 one
time in a hundred: a bf16 head alone flips ~3% of greedy choices against the float32 model (measured on
tiny Shakespeare, benchmarks/inference.py). `RescoredInt4Head` runs the head as plain int4 (finding the
candidates: its logits are ~0.5 off, yet over 2048 positions the true top token was never below its rank
6, the true 5th never below rank 27), then recomputes its top-64 logits in float32 from the exact rows of
the embedding table it is tied to (GGUF Q8_0, dequantised per row): the argmax and the top logits equal
the float32 head's, at the cost of one int4 pass and 64 row dot products. (Int8 weights,
`aten._weight_int8pack_mm`, are ~10x slower than int4pack on these CPUs at 1 x 576 x 49152;
`Int8WeightOnlyLinear` stays available for CPUs where it is fast.)

`prepare_model(model, "fast")` swaps the linear layers in place (the engine's runner calls whatever module
is there); `load_fast_model(source)` builds the `fast` model straight from a GGUF's blocks, one tensor at a
time, without ever materialising a float32 weight matrix (peak memory is what bounds a small server).

    >>> model = prepare_model(load_model("smollm2"), "fast")
    >>> type(model.layers[0].attn.q).__name__, type(model.head).__name__
    ('Int4WeightOnlyLinear', 'RescoredInt4Head')
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from glossa.errors import GlossaError
from glossa.formats.gguf import read_gguf
from glossa.formats.gguf_quants import dequantize
from glossa.infer.dense_prefill import current_route
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
Q4_1, Q8_0 = 3, 8  # their ggml type ids
HEAD_TOP_K = 64  # logits recomputed exactly by the head (int4 logits can be ~1 off: keep a wide margin)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
LOADING_MMAP_THRESHOLD = 128 * 1024  # glibc's starting value
RUNNING_MMAP_THRESHOLD, RUNNING_TRIM_THRESHOLD = 32 * 2**20, 64 * 2**20
RESCORE_ROWS = 64  # rows of x rescored at once: bounds the (rows, k, d) gather to a few MB
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


def _bf16_neighbours(values: Tensor) -> list[Tensor]:
    """`values` rounded to bf16, and the bf16 numbers on either side of that (as float32)."""
    nearest = values.to(ACTIVATION_DTYPE)
    bits = nearest.view(torch.int16)  # adjacent bf16 numbers have adjacent bit patterns
    candidates = [nearest.float()]
    for step in (-1, 1):
        other = (bits + step).view(ACTIVATION_DTYPE).float()
        candidates.append(torch.where(torch.isfinite(other), other, candidates[0]))
    return candidates


def fit_bf16_scale_and_zero(codes: Tensor, d: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
    """The bf16 (scale, zero) per group of 32 closest in least squares to the true weights w = d·q + m.

    codes (out, in) in 0..15; d, m (out, in/32) float32. With a = scale − d and b = zero − 8·scale − m the
    kernel's weight is off by q·a + b, so a group's squared error is a²Σq² + 2abΣq + 32b²: for each of the
    three bf16 scales around d, the best zero is m + 8·scale − a·mean(q), and the three bf16 zeros around
    that are tried. With the scale rounded to nearest, the error is a parabola in the zero whose best bf16
    point is among those tried, so the fit is never worse than rounding d and m + 8d each to bf16."""
    groups = codes.reshape(*d.shape, GROUP_SIZE).float()
    sum_q, sum_q2 = groups.sum(-1), groups.square().sum(-1)
    best_error = torch.full_like(d, float("inf"))
    best_scale, best_zero = torch.zeros_like(d), torch.zeros_like(d)
    for scale in _bf16_neighbours(d):
        a = scale - d
        for zero in _bf16_neighbours(m + 8 * scale - a * sum_q / GROUP_SIZE):
            b = zero - 8 * scale - m
            error = a * a * sum_q2 + 2 * a * b * sum_q + GROUP_SIZE * b * b
            better = error < best_error
            best_error = torch.where(better, error, best_error)
            best_scale = torch.where(better, scale, best_scale)
            best_zero = torch.where(better, zero, best_zero)
    return best_scale, best_zero


def _adjacent(tensors: list[Tensor]) -> bool:
    """Contiguous tensors laid end to end in one storage."""
    storage = tensors[0].untyped_storage().data_ptr()
    end = tensors[0].storage_offset()
    for tensor in tensors:
        if not tensor.is_contiguous() or tensor.untyped_storage().data_ptr() != storage:
            return False
        if tensor.storage_offset() != end:
            return False
        end += tensor.numel()
    return True


class Int4WeightOnlyLinear(nn.Module):
    """y = x Wᵀ with W stored as int4 codes in groups of 32 (torch's int4pack layout) and bf16 activations."""

    def __init__(self, packed: Tensor, scales_and_zeros: Tensor, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("packed", packed)
        self.register_buffer("scales_and_zeros", scales_and_zeros)  # (in/32, out, 2) bf16
        self.dense: Tensor | None = None  # a bf16 copy for many-row passes (`glossa.infer.dense_prefill`)

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
        scale ≈ d, zero ≈ m + 8d (the closest bf16 pair, `fit_bf16_scale_and_zero`)."""
        out_features, in_features = shape
        blocks = np.ascontiguousarray(raw).reshape(out_features, in_features // GROUP_SIZE, Q4_1_BLOCK_BYTES)
        d = blocks[..., 0:2].copy().view("<f2")[..., 0].astype(np.float32)
        m = blocks[..., 2:4].copy().view("<f2")[..., 0].astype(np.float32)
        packed = blocks[..., 4:]  # (out, groups, 16): code j in the low nibble of byte j, 16+j in the high
        codes = torch.from_numpy(
            np.concatenate([packed & 0x0F, packed >> 4], axis=-1).reshape(out_features, in_features)
        )
        scales, zeros = fit_bf16_scale_and_zero(codes, torch.from_numpy(d), torch.from_numpy(m))
        return cls.from_codes(codes, scales, zeros)

    @classmethod
    def from_float(cls, weight: Tensor) -> Int4WeightOnlyLinear:
        """Our own group-32 asymmetric int4 quantization of a float weight (out, in)."""
        return cls.from_codes(*quantize_groups(weight))

    @classmethod
    def from_rows(cls, rows, shape: tuple[int, int], rows_per_chunk: int = 1024) -> Int4WeightOnlyLinear:
        """Quantize chunk by chunk (`rows(start, stop)` -> float rows), writing whole packing tiles into the
        final buffers: no float copy of the whole matrix and no full-size temporary ever exists."""
        out_features, in_features = shape
        packed = torch.empty(out_features, in_features // 2, dtype=torch.uint8)  # two codes per byte
        scales_and_zeros = torch.empty(in_features // GROUP_SIZE, out_features, 2, dtype=ACTIVATION_DTYPE)
        for start in range(0, out_features, rows_per_chunk):
            stop = min(start + rows_per_chunk, out_features)
            piece = cls.from_float(rows(start, stop))
            packed[start:stop] = piece.packed
            scales_and_zeros[:, start:stop] = piece.scales_and_zeros
        return cls(packed, scales_and_zeros, in_features, out_features)

    @classmethod
    def concat(cls, parts: list[Int4WeightOnlyLinear]) -> Int4WeightOnlyLinear:
        """One linear whose outputs are the parts' outputs side by side (fused Q/K/V, gate+up). The CPU
        packing interleaves rows in tiles of 64 (found by experiment), so packed rows concatenate only when
        every part but the last has a multiple of 64 rows.

        The codes are not duplicated: the first concat moves the parts' codes into one buffer and leaves each
        part reading its rows of it; a later concat of the same parts finds them adjacent and reuses it."""
        if not cls.can_concat(parts):
            raise GlossaError(f"int4 linears concatenate only in whole tiles of {PACK_TILE_ROWS} rows")
        rows = sum(p.packed.shape[0] for p in parts)
        first = parts[0].packed
        if _adjacent([p.packed for p in parts]):
            packed = first.new_empty(0).set_(
                first.untyped_storage(), first.storage_offset(), (rows, first.shape[1]), first.stride()
            )
        else:
            packed = torch.cat([p.packed for p in parts], dim=0)
            start = 0
            for part in parts:
                part.packed = packed[start : start + part.packed.shape[0]]
                start += part.packed.shape[0]
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
        x2d = x.reshape(-1, shape[-1]).to(ACTIVATION_DTYPE)
        route = current_route() if self.dense is not None else None
        if route is not None and route.total == x2d.shape[0]:
            y = route.apply(x2d, self.dense, self._mm)
        else:
            y = self._mm(x2d)
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


class RescoredInt4Head(nn.Module):
    """The output head: plain group-32 int4 logits to find the `top_k` candidates, whose logits are then
    recomputed in float32 from `table`, the exact rows (an embedding module: ids -> float rows; for a tied
    head the token-embedding table itself, so no second copy). Logits are float32: exact for the top-k
    (hence the argmax, top-k and top-p decisions), int4-accurate with bf16 rounding for the rest."""

    def __init__(self, approx: Int4WeightOnlyLinear, table: nn.Module, top_k: int = HEAD_TOP_K) -> None:
        super().__init__()
        self.approx, self.table = approx, table
        self.in_features, self.out_features = approx.in_features, approx.out_features
        self.top_k = min(top_k, approx.out_features)

    @classmethod
    def from_table(
        cls, table: nn.Module, shape: tuple[int, int], top_k: int = HEAD_TOP_K
    ) -> RescoredInt4Head:
        """The int4 copy is quantized from `table`'s own rows, a chunk at a time."""

        def rows(start: int, stop: int) -> Tensor:
            return table(torch.arange(start, stop)).float()

        return cls(Int4WeightOnlyLinear.from_rows(rows, shape), table, top_k)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x2d = x.reshape(-1, shape[-1]).float()
        logits = self.approx._mm(x2d.to(ACTIVATION_DTYPE)).float()
        top = logits.topk(self.top_k, dim=-1, sorted=False).indices
        for start in range(0, x2d.shape[0], RESCORE_ROWS):
            ids = top[start : start + RESCORE_ROWS]
            exact = torch.bmm(self.table(ids).float(), x2d[start : start + RESCORE_ROWS, :, None])
            logits[start : start + RESCORE_ROWS].scatter_(-1, ids, exact[..., 0])
        return logits.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"top_k={self.top_k}"


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
    computes) or `fast` (int4 projections from the GGUF's own Q4_1 blocks, an int4 head rescored from the
    float rows, bf16 matmul activations; norms, RoPE, attention and the residual stream stay float32)."""
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
        weight = model.head.weight
        tied = weight is getattr(model.embed, "weight", None)
        table = model.embed if tied else nn.Embedding.from_pretrained(weight.detach(), freeze=True)
        model.head = RescoredInt4Head.from_table(table, tuple(weight.shape))
    return model


def _table(data: np.ndarray, type_id: int, shape: tuple[int, ...]) -> nn.Module:
    """An embedding-like table from GGUF bytes: Q8_0 stays Q8_0, anything else becomes float32."""
    if type_id == Q8_0:
        return Q8Embedding.from_q8_0(data, shape)
    return nn.Embedding.from_pretrained(torch.from_numpy(dequantize(data, type_id, shape)), freeze=True)


def _mallopt(settings: dict[int, int]) -> None:
    """Set glibc malloc parameters (nothing elsewhere). Two regimes, both measured:

    - loading: glibc raises its mmap threshold every time a large block is freed; blocks of that size then
      come from the heap where, interleaved with the long-lived packed weights, their holes are not given
      back: loading SmolLM2 peaked at 690 MiB for 111 MiB of weights. A fixed threshold of 128 KiB keeps
      every large block in its own mapping, returned to the system when it is freed;
    - running: that same setting made every temporary over 128 KiB a fresh mapping whose pages the kernel
      faults in and zeroes on each use, so a 1.6 MB gather took 650 µs instead of 45 µs and a 16-sequence
      engine step lost most of its time there. After loading, blocks up to 32 MiB come from the heap again
      and up to 64 MiB of freed heap is kept for reuse, without the loader's holes to strand it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    for option, value in settings.items():
        libc.mallopt(option, value)


def load_fast_model(source: str | Path = "smollm2") -> Transformer:
    """The `fast` model built straight from a GGUF file's blocks, one tensor at a time: Q4_1 projections
    become int4pack without a float copy, the Q8_0 embedding stays Q8_0 and is also the tied head's exact
    rows (its int4 copy is quantized chunk by chunk from them), only the norms are float32."""
    path = resolve(source)
    _mallopt({M_MMAP_THRESHOLD: LOADING_MMAP_THRESHOLD})
    with read_gguf(path) as gguf:
        config = config_from_gguf(gguf.metadata, set(gguf.tensors))
        if config.architecture != "decoder" or config.bias:
            raise GlossaError("load_fast_model reads bias-free Llama-family GGUF files; use load_model")
        names = {ours: theirs for theirs, ours in gguf_parameter_names(config, set(gguf.tensors)).items()}
        with torch.device("meta"):
            model = Transformer(config)

        def build(name: str, convert):
            """convert(bytes (rows, bytes per row) or (n,), ggml type id, shape) -> what the model keeps (a
            copy); then the tensor's file pages are released."""
            info = gguf.tensors[names[name]]
            data = gguf.tensor_bytes(info.name)
            if len(info.shape) == 2:
                data = data.reshape(info.shape[0], -1)
                kind = name.split(".", 2)[-1]
                heads = {"attn.q.weight": config.n_heads, "attn.k.weight": config.kv_heads}.get(kind)
                if heads is not None:
                    data = unpermute_rows(data, heads)
            kept = convert(data, info.ggml_type.type_id, info.shape)
            gguf.release(info.name)
            return kept

        def projection(data: np.ndarray, type_id: int, shape: tuple[int, int]) -> Int4WeightOnlyLinear:
            if type_id == Q4_1:
                return Int4WeightOnlyLinear.from_q4_1(data, shape)
            return Int4WeightOnlyLinear.from_float(torch.from_numpy(dequantize(data, type_id, shape)))

        _swap_projections(model, lambda name, linear: build(name, projection))
        for name, theirs in names.items():  # the norms: small float32 vectors
            if gguf.tensors[theirs].ggml_type.type_id == F32 and len(gguf.tensors[theirs].shape) == 1:
                module_path, _, attribute = name.rpartition(".")
                tensor = build(name, lambda *args: torch.tensor(dequantize(*args)))
                setattr(
                    model.get_submodule(module_path), attribute, nn.Parameter(tensor, requires_grad=False)
                )
        model.embed = build("embed.weight", _table)
        head_name = "embed.weight" if config.tie_embeddings else "head.weight"
        head_table = model.embed if config.tie_embeddings else build(head_name, _table)
        model.head = RescoredInt4Head.from_table(head_table, tuple(gguf.tensors[names[head_name]].shape))
    leftover = [name for name, p in model.named_parameters() if p.device.type == "meta"]
    if leftover:
        raise GlossaError(f"the fast loader left weights unset: {leftover[:3]}")
    model.reset_buffers("cpu")
    _mallopt({M_MMAP_THRESHOLD: RUNNING_MMAP_THRESHOLD, M_TRIM_THRESHOLD: RUNNING_TRIM_THRESHOLD})
    return model.eval()

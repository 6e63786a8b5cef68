"""GGUF → glossa: a Llama-architecture GGUF file's metadata as a `ModelConfig`, its tensors as our parameters.

llama.cpp names a Llama's tensors `token_embd`, `blk.N.attn_q`, `blk.N.ffn_gate`, `output_norm`, `output`, …;
`gguf_parameter_names` maps them to this package's names (`embed`, `layers.N.attn.q`, `layers.N.ffn.gate`,
`norm`, `head`). No `output.weight` means the output head is tied to the embeddings (SmolLM2).

**The Q/K row permutation.** HF Llama applies RoPE to pairs (x[i], x[i + d/2]) of each head ("rotate half");
llama.cpp's rope pairs neighbours (x[2i], x[2i+1]). So its converter (convert_hf_to_gguf.py, `permute`)
reorders the rows of every head of W_q and W_k: within a head, row i of the first half and row i of the
second half become rows 2i and 2i+1. `unpermute_rows` undoes that, per head (for W_k, per key/value head),
which gives back the HF layout that `glossa.nn.positions.apply_rotary` expects. Quantized blocks never
straddle rows (a row of 576 weights is 18 Q4_1 blocks), so the permutation is applied to the raw block bytes
before dequantising: the float weights and the kept quantized blocks (`QuantizedTensor`) are both in HF order.

**Quantized weights stay available.** Every tensor that is not plain F32 is also kept as a `QuantizedTensor`:
its raw bytes (a read-only view over the memory-mapped file, or a small copy for the permuted Q/K), its ggml
type and its shape, so the inference engine can run Q4_1 directly instead of the dequantised float32 copy.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from glossa.errors import GlossaError
from glossa.formats.gguf import GGUFFile
from glossa.formats.gguf_quants import dequantize
from glossa.models.config import ModelConfig
from glossa.nn.positions import RopeScaling

SUPPORTED_ARCHITECTURES = ("llama",)
F32 = 0

# llama.cpp's per-layer tensor names -> ours (the `blk.N.` / `layers.N.` prefixes are added per layer)
_LAYER_NAMES = {
    "attn_norm.weight": "attn_norm.weight",
    "attn_q.weight": "attn.q.weight",
    "attn_k.weight": "attn.k.weight",
    "attn_v.weight": "attn.v.weight",
    "attn_output.weight": "attn.o.weight",
    "ffn_norm.weight": "ffn_norm.weight",
    "ffn_gate.weight": "ffn.gate.weight",
    "ffn_up.weight": "ffn.up.weight",
    "ffn_down.weight": "ffn.down.weight",
}
_GLOBAL_NAMES = {
    "token_embd.weight": "embed.weight",
    "output_norm.weight": "norm.weight",
    "output.weight": "head.weight",
}


@dataclass(frozen=True)
class QuantizedTensor:
    """A weight as stored in the GGUF: `raw` bytes of ggml type `ggml_type`, numpy-order `shape`, rows in our
    (HF) order. `dequantize()` gives the float32 weights."""

    name: str  # our parameter name, e.g. "layers.0.attn.q.weight"
    gguf_name: str
    ggml_type: int
    type_name: str
    shape: tuple[int, ...]
    raw: np.ndarray  # uint8, (rows, bytes per row)

    def dequantize(self) -> np.ndarray:
        return dequantize(self.raw, self.ggml_type, self.shape)

    @property
    def n_bytes(self) -> int:
        return int(self.raw.size)


def _get(metadata: dict[str, Any], key: str, default: Any = None, *, required: bool = False) -> Any:
    if key in metadata:
        return metadata[key]
    if required:
        raise GlossaError(f"the GGUF metadata has no {key!r}, which a Llama model needs")
    return default


def config_from_gguf(metadata: dict[str, Any], tensor_names: set[str] | None = None) -> ModelConfig:
    """The `ModelConfig` that `llama.*` metadata describes (ties the head when there is no output tensor)."""
    architecture = metadata.get("general.architecture")
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise GlossaError(
            f"unsupported architecture {architecture!r} in the GGUF metadata (general.architecture): "
            f"glossa reads {', '.join(SUPPORTED_ARCHITECTURES)} models"
        )
    prefix = f"{architecture}."
    d_model = int(_get(metadata, prefix + "embedding_length", required=True))
    n_heads = int(_get(metadata, prefix + "attention.head_count", required=True))
    n_kv_heads = int(_get(metadata, prefix + "attention.head_count_kv", n_heads))
    head_dim = int(_get(metadata, prefix + "attention.key_length", d_model // n_heads))
    rope_dim = int(_get(metadata, prefix + "rope.dimension_count", head_dim))
    if rope_dim != head_dim:
        raise GlossaError(f"partial RoPE ({rope_dim} of {head_dim} head dimensions) is not supported")
    tokens = metadata.get("tokenizer.ggml.tokens")
    vocab_size = int(_get(metadata, prefix + "vocab_size", len(tokens) if tokens is not None else 0))
    if vocab_size < 1:
        raise GlossaError(f"the GGUF metadata gives no vocabulary size ({prefix}vocab_size)")
    tied = tensor_names is not None and "output.weight" not in tensor_names
    return ModelConfig(
        name=str(metadata.get("general.name", "")),
        vocab_size=vocab_size,
        context_length=int(_get(metadata, prefix + "context_length", 2048)),
        d_model=d_model,
        n_layers=int(_get(metadata, prefix + "block_count", required=True)),
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        head_dim=None if head_dim * n_heads == d_model else head_dim,
        d_ff=int(_get(metadata, prefix + "feed_forward_length", required=True)),
        ffn_kind="swiglu",
        norm_kind="rmsnorm",
        norm_eps=_f32(_get(metadata, prefix + "attention.layer_norm_rms_epsilon", 1e-5)),
        norm_position="pre",
        position_kind="rope",
        rope_theta=_f32(_get(metadata, prefix + "rope.freq_base", 10000.0)),
        rope_scaling=_rope_scaling(metadata, prefix),
        bias=False,
        head="lm",
        tie_embeddings=tied,
    )


def _rope_scaling(metadata: dict[str, Any], prefix: str) -> RopeScaling | None:
    kind = metadata.get(prefix + "rope.scaling.type")
    factor = metadata.get(prefix + "rope.scaling.factor")
    if kind in (None, "none") or factor in (None, 0.0, 1.0):
        return None
    if kind != "linear":
        raise GlossaError(f"RoPE scaling {kind!r} in the GGUF metadata is not supported (only linear)")
    original = metadata.get(prefix + "rope.scaling.original_context_length")
    return RopeScaling("linear", _f32(factor), int(original) if original else None)


def _f32(value: float) -> float:
    """A float32 metadata value as the decimal it was written from (1e-05, not 9.999999747378752e-06)."""
    return float(str(np.float32(value)))


def gguf_parameter_names(config: ModelConfig, tensor_names: set[str]) -> dict[str, str]:
    """GGUF tensor name -> our parameter name, for every tensor; fails on missing or extra tensors."""
    mapping = {gguf: ours for gguf, ours in _GLOBAL_NAMES.items() if gguf != "output.weight"}
    if not config.tie_embeddings:
        mapping["output.weight"] = "head.weight"
    for layer in range(config.n_layers):
        for gguf, ours in _LAYER_NAMES.items():
            mapping[f"blk.{layer}.{gguf}"] = f"layers.{layer}.{ours}"
    missing = sorted(set(mapping) - tensor_names)
    if missing:
        raise GlossaError(
            f"the GGUF file lacks {len(missing)} tensor(s) a Llama model needs, e.g. {missing[0]!r}"
        )
    extra = sorted(name for name in tensor_names - set(mapping) if not name.startswith("rope_freqs"))
    if extra:
        raise GlossaError(f"the GGUF file has {len(extra)} tensor(s) glossa does not know, e.g. {extra[0]!r}")
    return mapping


def unpermute_rows(rows: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's per-head Q/K row permutation (rows may be float weights or raw block bytes)."""
    n_rows = rows.shape[0]
    if n_rows % (2 * n_heads):
        raise GlossaError(f"cannot unpermute {n_rows} rows into {n_heads} heads of rotary pairs")
    half = n_rows // n_heads // 2
    return rows.reshape(n_heads, half, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def permute_rows(rows: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's permutation (convert_hf_to_gguf.py `permute`), the inverse of `unpermute_rows`."""
    n_rows = rows.shape[0]
    half = n_rows // n_heads // 2
    return rows.reshape(n_heads, 2, half, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def read_gguf_weights(
    gguf: GGUFFile, config: ModelConfig
) -> tuple[dict[str, torch.Tensor], dict[str, QuantizedTensor]]:
    """Our float32 state dict, and the non-F32 tensors as `QuantizedTensor`s, from an open GGUF file."""
    mapping = gguf_parameter_names(config, set(gguf.tensors))
    state: dict[str, torch.Tensor] = {}
    quantized: dict[str, QuantizedTensor] = {}
    raws: dict[str, tuple[np.ndarray, int, tuple[int, ...]]] = {}
    for gguf_name, name in mapping.items():
        info = gguf.tensors[gguf_name]
        expected = _expected_shape(config, name)
        if info.shape != expected:
            raise GlossaError(
                f"GGUF tensor {gguf_name!r} has shape {info.shape}, but the metadata implies {expected}"
            )
        type_id = info.ggml_type.type_id
        raw = gguf.tensor_bytes(gguf_name)
        if len(info.shape) == 2:
            raw = raw.reshape(info.shape[0], -1)
            heads = {"attn.q.weight": config.n_heads, "attn.k.weight": config.kv_heads}.get(_kind(name))
            if heads is not None:
                raw = np.ascontiguousarray(unpermute_rows(raw, heads))
        if type_id != F32:
            quantized[name] = QuantizedTensor(name, gguf_name, type_id, info.ggml_type.name, info.shape, raw)
        raws[name] = (raw, type_id, info.shape)
    # numpy releases the GIL in its kernels, so threads dequantise several tensors at once
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        arrays = pool.map(lambda item: dequantize(*item), raws.values())
        for name, array in zip(raws, arrays, strict=True):
            state[name] = torch.from_numpy(array)
    return state, quantized


def _expected_shape(config: ModelConfig, name: str) -> tuple[int, ...]:
    d, d_ff, head_dim = config.d_model, config.d_ff, config.attention_head_dim
    return {
        "embed.weight": (config.vocab_size, d),
        "head.weight": (config.vocab_size, d),
        "norm.weight": (d,),
        "attn_norm.weight": (d,),
        "ffn_norm.weight": (d,),
        "attn.q.weight": (config.n_heads * head_dim, d),
        "attn.k.weight": (config.kv_heads * head_dim, d),
        "attn.v.weight": (config.kv_heads * head_dim, d),
        "attn.o.weight": (d, config.n_heads * head_dim),
        "ffn.gate.weight": (d_ff, d),
        "ffn.up.weight": (d_ff, d),
        "ffn.down.weight": (d, d_ff),
    }[_kind(name)]


def _kind(name: str) -> str:
    """A parameter name without its `layers.N.` prefix."""
    return name.split(".", 2)[-1] if name.startswith("layers.") else name

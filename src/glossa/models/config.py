"""`ModelConfig`: one dataclass that describes every transformer glossa builds.

GPT-2, Llama/SmolLM2, BERT/MiniLM, a T5-style encoder-decoder and a mixture-of-experts decoder differ in a
handful of choices, so they are configurations of one `Transformer`, not subclasses (LitGPT's config.py,
nanochat's GPTConfig). The choices, grouped:

    shape         vocab_size, context_length, d_model, n_layers, n_heads, n_kv_heads, head_dim, d_ff
    architecture  "decoder" (causal, GPT-style), "encoder" (bidirectional, BERT-style) or "encoder-decoder"
                  (T5-style: n_layers encoder blocks, n_decoder_layers decoder blocks with cross-attention)
    block         ffn_kind (relu, gelu, gelu_tanh, swiglu, geglu), norm_kind (layernorm, rmsnorm), norm_eps,
                  norm_position ("pre": x + f(norm(x)), Llama/GPT-2; "post": norm(x + f(x)), BERT), bias
                  (on every linear layer and LayerNorm, GPT-2/BERT; none in Llama), dropout
    positions     position_kind (learned, sinusoidal, rope, none), rope_theta, rope_scaling, scale_embeddings
                  (multiply token embeddings by √d_model, as the original transformer does, so that they are
                  not drowned by unit-amplitude sinusoidal positions)
    attention     sliding_window (each token sees only the last w positions, Mistral-style)
    output        head: "lm" (logits over the vocabulary), "mlm" (BERT's masked-LM head: dense, activation,
                  LayerNorm, then the vocabulary) or "none" (hidden states only, e.g. sentence embeddings);
                  tie_embeddings (the output projection IS the token embedding matrix)
    MoE           n_experts > 0 replaces every FFN by `glossa.nn.moe.MoEFeedForward` (top_k, gating,
                  capacity_factor, moe_aux_loss_weight, moe_z_loss_weight)
    BERT extras   type_vocab_size (segment embeddings), embedding_norm (LayerNorm after the embeddings)

Everything is checked when the config is made, so a bad one fails with a `GlossaError` that names the field,
not with a shape error deep inside a forward pass. `to_dict`/`from_dict` round-trip through JSON.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from glossa.errors import GlossaError
from glossa.nn.mlp import FFN_KINDS
from glossa.nn.norms import NORM_KINDS
from glossa.nn.positions import RopeScaling

ARCHITECTURES = ("decoder", "encoder", "encoder-decoder")
POSITION_KINDS = ("learned", "sinusoidal", "rope", "none")
NORM_POSITIONS = ("pre", "post")
HEADS = ("lm", "mlm", "none")
GATINGS = ("topk", "soft", "hard")


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    context_length: int = 2048
    architecture: str = "decoder"
    n_kv_heads: int | None = None  # None: as many as query heads (multi-head attention)
    head_dim: int | None = None  # None: d_model // n_heads
    n_decoder_layers: int = 0  # encoder-decoder only
    ffn_kind: str = "swiglu"
    norm_kind: str = "rmsnorm"
    norm_eps: float = 1e-5
    norm_position: str = "pre"
    position_kind: str = "rope"
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling | None = None
    scale_embeddings: bool = False
    sliding_window: int | None = None
    bias: bool = False
    dropout: float = 0.0
    head: str = "lm"
    tie_embeddings: bool = True
    type_vocab_size: int = 0
    embedding_norm: bool = False
    n_experts: int = 0
    top_k: int = 2
    gating: str = "topk"
    capacity_factor: float | None = None
    moe_aux_loss_weight: float = 0.01
    moe_z_loss_weight: float = 0.001
    init_std: float = 0.02
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "context_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise GlossaError(f"{name} must be a positive integer, not {value!r}")
        _choose("architecture", self.architecture, ARCHITECTURES)
        _choose("ffn_kind", self.ffn_kind, tuple(FFN_KINDS))
        _choose("norm_kind", self.norm_kind, NORM_KINDS)
        _choose("norm_position", self.norm_position, NORM_POSITIONS)
        _choose("position_kind", self.position_kind, POSITION_KINDS)
        _choose("head", self.head, HEADS)
        _choose("gating", self.gating, GATINGS)
        if self.head_dim is None and self.d_model % self.n_heads:
            raise GlossaError(
                f"n_heads={self.n_heads} does not divide d_model={self.d_model}: choose a head count that "
                "divides the width, or set head_dim"
            )
        if self.head_dim is not None and self.head_dim < 1:
            raise GlossaError(f"head_dim must be a positive integer, not {self.head_dim}")
        if self.n_kv_heads is not None and (self.n_kv_heads < 1 or self.n_heads % self.n_kv_heads):
            raise GlossaError(
                f"n_kv_heads={self.n_kv_heads} must divide n_heads={self.n_heads} "
                "(each key/value head serves an equal group of query heads)"
            )
        if self.position_kind == "rope" and self.attention_head_dim % 2:
            raise GlossaError(f"RoPE needs an even head dimension, not {self.attention_head_dim}")
        if self.rope_scaling is not None and self.position_kind != "rope":
            raise GlossaError("rope_scaling is set but position_kind is not 'rope'")
        if self.architecture == "encoder-decoder" and self.n_decoder_layers < 1:
            raise GlossaError("an encoder-decoder needs n_decoder_layers ≥ 1 (n_layers counts the encoder)")
        if self.architecture != "encoder-decoder" and self.n_decoder_layers:
            raise GlossaError(
                f"n_decoder_layers is only for encoder-decoder models, not {self.architecture!r}"
            )
        if self.sliding_window is not None and self.sliding_window < 1:
            raise GlossaError(f"sliding_window must be at least 1, not {self.sliding_window}")
        if not 0.0 <= self.dropout < 1.0:
            raise GlossaError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.norm_eps <= 0:
            raise GlossaError(f"norm_eps must be positive, not {self.norm_eps}")
        if self.head == "mlm" and self.architecture != "encoder":
            raise GlossaError("the masked-LM head ('mlm') is for encoder models")
        if self.n_experts < 0:
            raise GlossaError(f"n_experts must be 0 (dense) or more, not {self.n_experts}")
        if self.n_experts and not 1 <= self.top_k <= self.n_experts:
            raise GlossaError(f"top_k={self.top_k} must be between 1 and n_experts={self.n_experts}")
        if self.capacity_factor is not None and self.capacity_factor <= 0:
            raise GlossaError(f"capacity_factor must be positive, not {self.capacity_factor}")
        if self.type_vocab_size < 0:
            raise GlossaError(f"type_vocab_size must be 0 or more, not {self.type_vocab_size}")

    @property
    def attention_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads if self.n_kv_heads is not None else self.n_heads

    @property
    def causal(self) -> bool:
        """Whether the main stack (the decoder, if there is one) attends causally."""
        return self.architecture != "encoder"

    @property
    def decoder_layers(self) -> int:
        """Blocks in the decoder (or in the only stack of a decoder-only / encoder-only model)."""
        return self.n_decoder_layers if self.architecture == "encoder-decoder" else self.n_layers

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise GlossaError(
                f"unknown model config field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = dict(values)
        scaling = values.get("rope_scaling")
        if isinstance(scaling, dict):
            try:
                values["rope_scaling"] = RopeScaling(**scaling)
            except TypeError as error:
                raise GlossaError(f"bad rope_scaling {scaling}: {error}") from None
        try:
            return cls(**values)
        except TypeError as error:
            raise GlossaError(f"incomplete model config: {error}") from None


def _choose(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise GlossaError(f"unknown {name} {value!r}: use one of {', '.join(allowed)}")

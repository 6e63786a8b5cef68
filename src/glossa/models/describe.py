"""What a model costs, from its config alone: parameters by component, FLOPs per token, KV-cache bytes, scale.

- **Parameters** are counted on a model built on the meta device (shapes, no memory), grouped by component:
  embeddings, positions, attention, FFN (for MoE: experts and router), norms, output head (0 when tied: the
  head IS the embedding matrix). For an MoE model, the *active* parameters are those one token passes
  through: the shared ones plus k of the n experts of each layer.
- **FLOPs per token** (Kaplan et al., 2020): a forward pass costs about 2 FLOPs (a multiply and an add) per
  weight a token meets in a matrix product, plus the attention scores and the weighted sum of values over the
  context: forward ≈ 2·N + 2·n_layer·n_ctx·d_attn; training (forward + backward, the backward twice the
  forward) ≈ 6·N + 6·n_layer·n_ctx·d_attn. N here counts every matmul weight a token uses: active
  non-embedding parameters plus the output projection (vocab × width, even when tied); the embedding lookup
  and position tables cost no FLOPs. n_ctx is the context length unless given.
- **KV-cache bytes per token**: each decoder layer keeps one key and one value vector per KV head:
  2 · layers · n_kv_heads · head_dim · bytes per number. Grouped-query attention divides this by
  n_heads / n_kv_heads. Encoders keep no cache.
- **Scale category** (seed §8): small < 1B parameters, medium 1–10B, large 10–100B, foundation ≥ 100B.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from glossa.models.config import ModelConfig
from glossa.models.transformer import Transformer

BYTES_PER_NUMBER = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
COMPONENTS = ("embeddings", "positions", "attention", "ffn", "experts", "router", "norms", "head")
SCALES = ((1e9, "small"), (1e10, "medium"), (1e11, "large"))


@dataclass(frozen=True)
class ModelDescription:
    config: ModelConfig
    parameters: dict[str, int]  # component -> count (each shared tensor counted once)
    total: int
    active: int  # parameters one token passes through (MoE: k of n experts)
    matmul_parameters: int  # N of the FLOP formulas
    context: int
    flops_forward: int  # per token, at `context` tokens of attention span
    flops_train: int
    kv_cache_bytes: dict[str, int] = field(default_factory=dict)  # per token, per number format
    scale: str = "small"


def component(name: str) -> str:
    """The component a parameter name belongs to."""
    if name.startswith(("embed.", "token_types.")):
        return "embeddings"
    if name.startswith("positions."):
        return "positions"
    if ".attn." in name or ".cross_attn." in name:
        return "attention"
    if ".ffn.experts." in name:
        return "experts"
    if ".ffn.router." in name:
        return "router"
    if ".ffn." in name:
        return "ffn"
    if "norm" in name.split(".")[-2]:
        return "norms"
    return "head"  # head.* and the masked-LM head's mlm.*


def scale_category(n_parameters: int) -> str:
    for limit, name in SCALES:
        if n_parameters < limit:
            return name
    return "foundation"


def describe(config: ModelConfig, context: int | None = None) -> ModelDescription:
    with torch.device("meta"):
        model = Transformer(config)
    parameters = dict.fromkeys(COMPONENTS, 0)
    for name, parameter in model.named_parameters():
        parameters[component(name)] += parameter.numel()
    total = sum(parameters.values())
    experts_per_token = {"soft": config.n_experts, "hard": 1}.get(config.gating, config.top_k)
    inactive = 0
    if config.n_experts:
        inactive = parameters["experts"] * (config.n_experts - experts_per_token) // config.n_experts
    active = total - inactive
    # a tied output projection is counted under embeddings, but every token still multiplies by it
    tied_projection = (
        config.vocab_size * config.d_model if config.tie_embeddings and config.head != "none" else 0
    )
    matmul = active - parameters["embeddings"] - parameters["positions"] + tied_projection
    context = config.context_length if context is None else context
    layers = config.n_layers + config.n_decoder_layers
    d_attn = config.n_heads * config.attention_head_dim
    attention_flops = 2 * layers * context * d_attn
    kv_layers = config.decoder_layers if config.architecture != "encoder" else 0
    kv_numbers = 2 * kv_layers * config.kv_heads * config.attention_head_dim
    return ModelDescription(
        config=config,
        parameters=parameters,
        total=total,
        active=active,
        matmul_parameters=matmul,
        context=context,
        flops_forward=2 * matmul + attention_flops,
        flops_train=6 * matmul + 3 * attention_flops,
        kv_cache_bytes={kind: kv_numbers * size for kind, size in BYTES_PER_NUMBER.items()},
        scale=scale_category(total),
    )

"""Named configurations: the model families of seed §8 as data (LitGPT's config.py in miniature).

    gpt2-small     decoder, learned positions, pre-norm LayerNorm, GELU (tanh), biases, tied head: GPT-2 124M
    llama-tiny     a Llama-style decoder small enough to train in a test: RoPE, RMSNorm, SwiGLU, GQA
    smollm2-135m   SmolLM2-135M(-Instruct) exactly, as its GGUF's metadata describes it
    bert-base      BERT-base: encoder, post-norm, learned positions + token types, GELU, MLM head
    minilm-l6      all-MiniLM-L6-v2: a 6-layer, 384-wide BERT used for sentence embeddings (no head)
    bert-tiny      a BERT small enough for tests (MLM head)
    t5-tiny        a T5-style encoder-decoder: pre-norm RMSNorm, ReLU FFN, no biases, shared embeddings
                   (with the original transformer's sinusoidal positions, not T5's relative-position buckets)
    moe-tiny       a decoder whose FFNs are 4 experts, top-2 routing
    mistral-tiny   llama-tiny with a sliding attention window

`preset(name)` returns the config; `preset(name, n_layers=4)` overrides fields.
"""

from __future__ import annotations

from typing import Any

from glossa.errors import GlossaError
from glossa.models.config import ModelConfig

_LLAMA_STYLE: dict[str, Any] = dict(
    architecture="decoder", ffn_kind="swiglu", norm_kind="rmsnorm", norm_position="pre", position_kind="rope",
    bias=False,
)  # fmt: skip
_BERT_STYLE: dict[str, Any] = dict(
    architecture="encoder", ffn_kind="gelu", norm_kind="layernorm", norm_eps=1e-12, norm_position="post",
    position_kind="learned", bias=True, type_vocab_size=2, embedding_norm=True, context_length=512,
    vocab_size=30522,
)  # fmt: skip

PRESETS: dict[str, dict[str, Any]] = {
    "gpt2-small": dict(
        architecture="decoder", vocab_size=50257, context_length=1024, d_model=768, n_layers=12, n_heads=12,
        d_ff=3072, ffn_kind="gelu_tanh", norm_kind="layernorm", norm_position="pre", position_kind="learned",
        bias=True, tie_embeddings=True,
    ),
    "llama-tiny": dict(
        **_LLAMA_STYLE, vocab_size=256, context_length=128, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2,
        d_ff=172, tie_embeddings=False,
    ),
    "smollm2-135m": dict(
        **_LLAMA_STYLE, vocab_size=49152, context_length=8192, d_model=576, n_layers=30, n_heads=9,
        n_kv_heads=3, d_ff=1536, norm_eps=1e-5, rope_theta=100000.0, tie_embeddings=True,
    ),
    "bert-base": dict(**_BERT_STYLE, d_model=768, n_layers=12, n_heads=12, d_ff=3072, head="mlm"),
    "minilm-l6": dict(**_BERT_STYLE, d_model=384, n_layers=6, n_heads=12, d_ff=1536, head="none"),
    "bert-tiny": dict(
        **{**_BERT_STYLE, "vocab_size": 128, "context_length": 64}, d_model=32, n_layers=2, n_heads=4,
        d_ff=64, head="mlm",
    ),
    "t5-tiny": dict(
        architecture="encoder-decoder", vocab_size=32, context_length=64, d_model=64, n_layers=2,
        n_decoder_layers=2, n_heads=4, d_ff=128, ffn_kind="relu", norm_kind="rmsnorm", norm_position="pre",
        position_kind="sinusoidal", scale_embeddings=True, bias=False, tie_embeddings=True,
    ),
    "moe-tiny": dict(
        **_LLAMA_STYLE, vocab_size=64, context_length=64, d_model=64, n_layers=2, n_heads=4, d_ff=128,
        n_experts=4, top_k=2, gating="topk", tie_embeddings=True,
    ),
    "mistral-tiny": dict(
        **_LLAMA_STYLE, vocab_size=256, context_length=128, d_model=64, n_layers=2, n_heads=4, n_kv_heads=1,
        d_ff=172, sliding_window=16,
    ),
}  # fmt: skip


def preset(name: str, **overrides: Any) -> ModelConfig:
    """The named configuration, with any field overridden."""
    if name not in PRESETS:
        raise GlossaError(f"no model preset named {name!r}: choose one of {', '.join(PRESETS)}")
    return ModelConfig(name=name, **{**PRESETS[name], **overrides})

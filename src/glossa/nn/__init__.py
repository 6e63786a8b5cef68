"""Neural-network building blocks, one idea per file (seed §7, §9, §10, §17).

    masks.py       one function for every attention mask: causal, bidirectional, padding, sliding window,
                   block-sparse, and their combinations
    attention.py   scaled dot-product attention (torch's fused SDPA + a plain reference path); multi-head,
                   grouped-query and multi-query attention; self- and cross-attention
    positions.py   absolute sinusoidal, learned and rotary (RoPE) positions, with RoPE scaling
    norms.py       LayerNorm and RMSNorm
    mlp.py         the feed-forward network: ReLU, GELU, SwiGLU, GeGLU
    kv_cache.py    the simplest key/value cache for autoregressive decoding
    moe.py         mixture-of-experts feed-forward layers (routing, capacity, auxiliary losses)
    recurrent.py   the recurrent networks transformers replaced (RNN, LSTM, GRU)

`glossa.models.transformer` assembles these into whole models from a `ModelConfig`.
"""

"""Positional encodings: the sinusoidal formula, RoPE's relative-position property, and RoPE scaling against
transformers' own rope init functions."""

import math
import os

import pytest
import torch

from glossa.errors import GlossaError
from glossa.nn.positions import (
    LearnedPositions,
    RopeScaling,
    RotaryEmbedding,
    apply_rotary,
    rope_inv_freq,
    sinusoidal_table,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def test_sinusoidal_table_is_the_formula():
    n, d = 12, 10
    table = sinusoidal_table(n, d)
    for p in range(n):
        for i in range(d // 2):
            angle = p / 10000 ** (2 * i / d)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_learned_positions_are_a_trainable_table():
    positions = LearnedPositions(16, 4)
    assert positions.weight.requires_grad
    assert torch.equal(positions(torch.tensor([3, 5])), positions.weight[[3, 5]])


def test_rope_scores_depend_only_on_the_relative_offset():
    torch.manual_seed(0)
    head_dim = 16
    rope = RotaryEmbedding(head_dim, theta=10000.0)
    q, k = torch.randn(1, 1, 1, head_dim), torch.randn(1, 1, 1, head_dim)

    def score(query_position: int, key_position: int) -> float:
        rotated_q = apply_rotary(q, *rope(torch.tensor([query_position])))
        rotated_k = apply_rotary(k, *rope(torch.tensor([key_position])))
        return float((rotated_q * rotated_k).sum())

    for offset in (0, 1, 5, 17):
        scores = [score(start + offset, start) for start in (0, 3, 40, 200)]
        assert max(scores) - min(scores) < 1e-4
    assert abs(score(5, 0) - score(0, 0)) > 1e-3  # and the offset does matter


def test_rope_preserves_norms_and_position_zero_is_identity():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 8)
    cos, sin = RotaryEmbedding(8)(torch.arange(5))
    rotated = apply_rotary(x, cos, sin)
    assert torch.allclose(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    assert torch.allclose(rotated[:, :, 0], x[:, :, 0])


def test_apply_rotary_matches_transformers():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    torch.manual_seed(0)
    q, k = torch.randn(2, 4, 6, 16), torch.randn(2, 2, 6, 16)
    cos, sin = RotaryEmbedding(16, theta=500.0)(torch.arange(6))
    expected_q, expected_k = apply_rotary_pos_emb(q, k, cos[None], sin[None])
    assert torch.allclose(apply_rotary(q, cos, sin), expected_q, atol=1e-6)
    assert torch.allclose(apply_rotary(k, cos, sin), expected_k, atol=1e-6)


def hf_inv_freq(rope_parameters: dict, seq_len: int | None = None) -> torch.Tensor:
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = LlamaConfig(
        hidden_size=256, num_attention_heads=4, max_position_embeddings=2048, rope_parameters=rope_parameters
    )
    kind = rope_parameters["rope_type"]
    if kind == "default":
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

        return LlamaRotaryEmbedding.compute_default_rope_parameters(config)[0]
    return ROPE_INIT_FUNCTIONS[kind](config, None, seq_len=seq_len)[0]


@pytest.mark.parametrize(
    ("scaling", "hf"),
    [
        (None, {"rope_type": "default", "rope_theta": 10000.0}),
        (RopeScaling("linear", 4.0), {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0}),
        (
            RopeScaling("llama3", 8.0, 1024, low_freq_factor=1.0, high_freq_factor=4.0),
            {
                "rope_type": "llama3",
                "rope_theta": 10000.0,
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 1024,
            },
        ),
    ],
    ids=["default", "linear", "llama3"],
)
def test_rope_frequencies_match_transformers(scaling, hf):
    ours = rope_inv_freq(64, 10000.0, scaling, context_length=2048)
    assert torch.allclose(ours, hf_inv_freq(hf), rtol=1e-6, atol=0)


@pytest.mark.parametrize("seq_len", [1000, 2048, 5000])
def test_dynamic_ntk_matches_transformers(seq_len):
    ours = rope_inv_freq(64, 10000.0, RopeScaling("dynamic", 2.0), context_length=2048, seq_len=seq_len)
    expected = hf_inv_freq({"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}, seq_len=seq_len)
    assert torch.allclose(ours, expected, rtol=1e-6, atol=0)


def test_static_ntk_raises_the_base():
    factor, d = 4.0, 64
    ours = rope_inv_freq(d, 10000.0, RopeScaling("ntk", factor))
    base = 10000.0 * factor ** (d / (d - 2))
    expected = 1.0 / base ** (torch.arange(0, d, 2).float() / d)
    assert torch.allclose(ours, expected, rtol=1e-6)
    plain = rope_inv_freq(d, 10000.0)
    assert ours[0] == plain[0] and ours[-1] < plain[-1] / (factor * 0.99)  # high kept, low interpolated


def test_bad_rope_settings():
    with pytest.raises(GlossaError, match="even"):
        rope_inv_freq(7)
    with pytest.raises(GlossaError, match="unknown RoPE scaling"):
        RopeScaling("yarn", 2.0)
    with pytest.raises(GlossaError, match="original context"):
        rope_inv_freq(8, scaling=RopeScaling("llama3", 8.0))

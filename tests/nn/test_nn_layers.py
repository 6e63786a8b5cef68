"""Norms against their formulas and torch's own modules, and each FFN kind against its formula."""

import pytest
import torch
import torch.nn.functional as F

from glossa.errors import GlossaError
from glossa.nn.mlp import FeedForward
from glossa.nn.norms import LayerNorm, RMSNorm, make_norm


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return module


def test_layernorm_matches_torch():
    x = torch.randn(3, 5, 16) * 4 + 2
    ours = randomize(LayerNorm(16, eps=1e-5))
    theirs = torch.nn.LayerNorm(16, eps=1e-5)
    theirs.load_state_dict(ours.state_dict())
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    no_bias = LayerNorm(16, bias=False)
    assert no_bias.bias is None and torch.allclose(no_bias(x), F.layer_norm(x, (16,), eps=1e-5), atol=1e-5)


def test_rmsnorm_matches_torch():
    x = torch.randn(3, 5, 16) * 3
    ours = randomize(RMSNorm(16, eps=1e-6))
    theirs = torch.nn.RMSNorm(16, eps=1e-6)
    theirs.load_state_dict(ours.state_dict())
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)


def test_norms_equal_their_formulas_in_float64():
    x = (torch.randn(3, 5, 16) * 4 + 2).double()
    layer, rms = randomize(LayerNorm(16, eps=1e-5)), randomize(RMSNorm(16, eps=1e-6))
    w, b = layer.weight.double(), layer.bias.double()
    mean, variance = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    expected_layer = (x - mean) / torch.sqrt(variance + 1e-5) * w + b
    expected_rms = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * rms.weight.double()
    assert torch.allclose(layer(x.float()).double(), expected_layer, atol=1e-5)
    assert torch.allclose(rms(x.float()).double(), expected_rms, atol=1e-5)


def test_norms_compute_in_float32_for_bf16_inputs():
    x = torch.randn(4, 32) * 100
    for norm in (LayerNorm(32), RMSNorm(32)):
        low = norm.to(torch.bfloat16)(x.bfloat16())
        assert low.dtype == torch.bfloat16
        assert torch.allclose(low.float(), norm.float()(x), atol=0.05)


def test_make_norm_rejects_unknown_kinds():
    assert isinstance(make_norm("rmsnorm", 8, 1e-6), RMSNorm)
    with pytest.raises(GlossaError, match="unknown norm"):
        make_norm("batchnorm", 8, 1e-5)


@pytest.mark.parametrize(
    ("kind", "formula"),
    [
        ("relu", lambda f, x: f.down(F.relu(f.up(x)))),
        ("gelu", lambda f, x: f.down(F.gelu(f.up(x)))),
        ("gelu_tanh", lambda f, x: f.down(F.gelu(f.up(x), approximate="tanh"))),
        ("swiglu", lambda f, x: f.down(F.silu(f.gate(x)) * f.up(x))),
        ("geglu", lambda f, x: f.down(F.gelu(f.gate(x)) * f.up(x))),
    ],
)
def test_ffn_kinds(kind, formula):
    torch.manual_seed(0)
    ffn = FeedForward(8, 24, kind, bias=True)
    x = torch.randn(2, 3, 8)
    assert (ffn.gate is not None) == kind.endswith("glu")
    assert torch.allclose(ffn(x), formula(ffn, x), atol=1e-6)


def test_unknown_ffn_kind():
    with pytest.raises(GlossaError, match="unknown FFN kind"):
        FeedForward(8, 16, "tanh")

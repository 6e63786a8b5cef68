"""Layer normalization, the two kinds transformers use.

Both normalise each token's vector on its own (over the feature axis, never across tokens or the batch), which
keeps activations at a steady scale through dozens of residual additions:

- **LayerNorm** (BERT, GPT-2): subtract the mean, divide by the standard deviation, then scale by a learned
  `weight` and shift by a learned `bias`:  y = (x - mean) / sqrt(var + eps) · w + b.
- **RMSNorm** (Llama, SmolLM2, T5): skip the centring and the bias, divide by the root mean square:
  y = x / sqrt(mean(x²) + eps) · w. One reduction instead of two, and it works as well in practice.

The statistics are computed in float32 even for bf16/fp16 inputs (as HF Llama does), then cast back. The
arithmetic is torch's fused `layer_norm` / `rms_norm`: one op forward and one backward where the formulas
written out cost six or seven small ones each, which at small widths is most of a norm's time (the tests
check both against the formulas above and against torch.nn / transformers).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glossa.errors import GlossaError


class LayerNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias.float()
        y = F.layer_norm(x.float(), x.shape[-1:], self.weight.float(), bias, self.eps)
        return y.to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        y = F.rms_norm(x.float(), x.shape[-1:], eps=self.eps)
        return self.weight * y.to(x.dtype)


NORM_KINDS = ("layernorm", "rmsnorm")


def make_norm(kind: str, dim: int, eps: float, bias: bool = True) -> nn.Module:
    """A norm by name: 'layernorm' (with a bias unless `bias=False`) or 'rmsnorm'."""
    if kind == "layernorm":
        return LayerNorm(dim, eps, bias=bias)
    if kind == "rmsnorm":
        return RMSNorm(dim, eps)
    raise GlossaError(f"unknown norm {kind!r}: use one of {', '.join(NORM_KINDS)}")

"""The feed-forward network (FFN): the per-token MLP that follows attention in every transformer block.

Attention mixes information between tokens; the FFN then transforms each token's vector on its own, through a
wider hidden layer (`d_ff`, typically 4× the width, or about 8/3× for gated kinds) and a nonlinearity:

    plain  (GPT-2, BERT, the original transformer):  down(act(up(x)))             act = ReLU or GELU
    gated  (Llama's SwiGLU, T5 v1.1's GeGLU):        down(act(gate(x)) * up(x))   act = SiLU or GELU

A gated FFN multiplies two projections, one through the activation, so the network chooses per feature how
much to let through (Shazeer, 2020, "GLU Variants Improve Transformer"). `kind` names both the gating and the
activation: relu, gelu (exact, erf), gelu_tanh (GPT-2's tanh approximation), swiglu, geglu.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch.nn.functional as F
from torch import Tensor, nn

from glossa.errors import GlossaError

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": partial(F.gelu, approximate="tanh"),
    "silu": F.silu,
}
# kind -> (activation, gated)
FFN_KINDS: dict[str, tuple[str, bool]] = {
    "relu": ("relu", False),
    "gelu": ("gelu", False),
    "gelu_tanh": ("gelu_tanh", False),
    "swiglu": ("silu", True),
    "geglu": ("gelu", True),
}


def ffn_activation(kind: str) -> tuple[str, bool]:
    """The activation name and whether the FFN is gated, for an FFN kind."""
    if kind not in FFN_KINDS:
        raise GlossaError(f"unknown FFN kind {kind!r}: use one of {', '.join(FFN_KINDS)}")
    return FFN_KINDS[kind]


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, kind: str = "swiglu", *, bias: bool = False) -> None:
        super().__init__()
        activation, gated = ffn_activation(kind)
        self.kind = kind
        self.activation = ACTIVATIONS[activation]
        self.gate = nn.Linear(d_model, d_ff, bias=bias) if gated else None
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.down = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.gate is None:
            return self.down(self.activation(self.up(x)))
        return self.down(self.activation(self.gate(x)) * self.up(x))

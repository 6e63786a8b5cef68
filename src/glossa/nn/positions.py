"""Positional encoding: how a transformer, which sees a set of vectors, learns their order.

Three ways, chosen by `ModelConfig.position_kind`:

- **absolute sinusoidal** (Vaswani et al., 2017): a fixed table added to the token embeddings,
  PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(p / base^(2i/d)). Nothing to learn; any length works.
- **learned** (GPT-2, BERT): a trainable table of `context_length` vectors, added the same way.
- **RoPE**, rotary (Su et al., 2021; Llama, SmolLM2): nothing is added to the embeddings. Inside attention,
  each query and key is cut into pairs of coordinates and pair i is rotated by the angle p·θ_i, with
  θ_i = base^(-2i/d). A rotation by p·θ of q and by s·θ of k leaves q·k depending on p - s only, so attention
  scores see RELATIVE positions. The pairs are (x[i], x[i + d/2]) ("rotate half", the HF Llama layout);
  llama.cpp pairs neighbours instead, which is why `glossa.models.gguf_weights` undoes a row permutation.

RoPE scaling stretches a model past its training length by slowing the rotations (`RopeScaling.kind`):
`linear` divides every frequency by `factor` (position interpolation); `ntk` raises the base to
base·factor^(d/(d-2)) so high frequencies barely change and low ones are interpolated ("NTK-aware");
`dynamic` does that with a factor that grows with the current sequence length, only beyond the original
context; `llama3` leaves high frequencies alone, divides low ones by `factor` and blends smoothly between
(Llama 3.1). Frequencies are computed exactly as transformers' rope init functions do; the tests compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from glossa.errors import GlossaError

ROPE_SCALING_KINDS = ("linear", "ntk", "dynamic", "llama3")


@dataclass(frozen=True)
class RopeScaling:
    """How RoPE frequencies are stretched; `original_context_length` is the training length it extends."""

    kind: str
    factor: float
    original_context_length: int | None = None
    low_freq_factor: float = 1.0  # llama3 only
    high_freq_factor: float = 4.0  # llama3 only

    def __post_init__(self) -> None:
        if self.kind not in ROPE_SCALING_KINDS:
            raise GlossaError(
                f"unknown RoPE scaling {self.kind!r}: use one of {', '.join(ROPE_SCALING_KINDS)}"
            )
        if not self.factor > 0:
            raise GlossaError(f"the RoPE scaling factor must be positive, not {self.factor}")
        if self.kind == "llama3" and not self.high_freq_factor > self.low_freq_factor:
            raise GlossaError("llama3 RoPE scaling needs high_freq_factor > low_freq_factor")


def sinusoidal_table(n_positions: int, dim: int, base: float = 10000.0) -> Tensor:
    """The (n_positions, dim) table of absolute sinusoidal encodings, sin in even and cos in odd columns."""
    position = torch.arange(n_positions, dtype=torch.float64, device="cpu").unsqueeze(1)
    frequency = base ** (-torch.arange(0, dim, 2, dtype=torch.float64, device="cpu") / dim)
    table = torch.zeros(n_positions, dim, dtype=torch.float64, device="cpu")
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table.float()


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal vectors, looked up by position (the table is a buffer, not saved with the weights)."""

    def __init__(self, n_positions: int, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        self.n_positions, self.dim, self.base = n_positions, dim, base
        self.register_buffer("table", sinusoidal_table(n_positions, dim, base), persistent=False)

    def reset_buffers(self, device: torch.device | str = "cpu") -> None:
        """Recompute the table (after the module was built on the meta device)."""
        self.table = sinusoidal_table(self.n_positions, self.dim, self.base).to(device)

    def forward(self, positions: Tensor) -> Tensor:
        return self.table[positions]


class LearnedPositions(nn.Module):
    """A trainable vector per position up to the context length."""

    def __init__(self, n_positions: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_positions, dim))
        if self.weight.device.type != "meta":  # (init on meta would import torch's reference ops: slow)
            nn.init.normal_(self.weight, std=0.02)

    def forward(self, positions: Tensor) -> Tensor:
        return self.weight[positions]


def rope_inv_freq(
    head_dim: int,
    theta: float = 10000.0,
    scaling: RopeScaling | None = None,
    *,
    context_length: int | None = None,
    seq_len: int | None = None,
) -> Tensor:
    """The head_dim/2 rotation frequencies θ_i (radians per position), after scaling.

    `context_length` is the model's context, used when `scaling.original_context_length` is unset; `seq_len`
    is the length being processed, which only `dynamic` scaling looks at."""
    if head_dim % 2:
        raise GlossaError(f"RoPE needs an even head dimension, not {head_dim}")
    # computed on the CPU even inside a `torch.device("meta")` block: these are constants, not weights
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64, device="cpu").float() / head_dim
    if scaling is None:
        return 1.0 / (theta**exponents)
    original = scaling.original_context_length or context_length
    if scaling.kind == "linear":
        return 1.0 / (theta**exponents) / scaling.factor
    if scaling.kind == "ntk":
        return 1.0 / ((theta * scaling.factor ** (head_dim / (head_dim - 2))) ** exponents)
    if original is None:
        raise GlossaError(f"{scaling.kind} RoPE scaling needs the original context length")
    if scaling.kind == "dynamic":
        length = max(seq_len or original, original)
        base = theta * ((scaling.factor * length / original) - (scaling.factor - 1)) ** (
            head_dim / (head_dim - 2)
        )
        return 1.0 / (base**exponents)
    return _llama3_inv_freq(1.0 / (theta**exponents), scaling, original)


def _llama3_inv_freq(inv_freq: Tensor, scaling: RopeScaling, original: int) -> Tensor:
    low_freq_wavelength = original / scaling.low_freq_factor
    high_freq_wavelength = original / scaling.high_freq_factor
    wavelength = 2 * math.pi / inv_freq
    scaled = torch.where(wavelength > low_freq_wavelength, inv_freq / scaling.factor, inv_freq)
    smooth = (original / wavelength - scaling.low_freq_factor) / (
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    is_medium = (wavelength >= high_freq_wavelength) & (wavelength <= low_freq_wavelength)
    return torch.where(is_medium, smoothed, scaled)


class RotaryEmbedding(nn.Module):
    """The cos and sin of each position's rotation angles, for `apply_rotary`."""

    def __init__(
        self,
        head_dim: int,
        theta: float = 10000.0,
        scaling: RopeScaling | None = None,
        context_length: int = 2048,
    ) -> None:
        super().__init__()
        self.head_dim, self.theta, self.scaling, self.context_length = (
            head_dim,
            theta,
            scaling,
            context_length,
        )
        inv_freq = rope_inv_freq(head_dim, theta, scaling, context_length=context_length)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def reset_buffers(self, device: torch.device | str = "cpu") -> None:
        """Recompute the frequencies (after the module was built on the meta device)."""
        inv_freq = rope_inv_freq(self.head_dim, self.theta, self.scaling, context_length=self.context_length)
        self.inv_freq = inv_freq.to(device)

    def forward(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """cos and sin, each (..., len(positions), head_dim), in float32 whatever the model's dtype."""
        inv_freq = self.inv_freq
        if self.scaling is not None and self.scaling.kind == "dynamic":
            seq_len = int(positions.max()) + 1 if positions.numel() else 0
            inv_freq = rope_inv_freq(
                self.head_dim, self.theta, self.scaling, context_length=self.context_length, seq_len=seq_len
            ).to(inv_freq.device)
        angles = positions.float().unsqueeze(-1) * inv_freq.float()
        angles = torch.cat((angles, angles), dim=-1)
        return angles.cos(), angles.sin()


def rotate_half(x: Tensor) -> Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate x (batch, heads, seq, head_dim) by the angles whose cos/sin are (seq, head_dim) or
    (batch, seq, head_dim): pair (x[i], x[i + d/2]) turns by angle i of its position."""
    if cos.dim() == 3:
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return (x * cos + rotate_half(x) * sin).to(x.dtype)

"""Prefill rows through dense bf16 weights, decode rows through int4: the engine's split for speed.

torch's int4 kernel (`aten._weight_int4pack_mm_for_cpu`) is the fastest way to read weights one row at a
time, but its cost grows with the rows almost linearly: measured on a 1536 × 576 SmolLM2 projection, 2
threads, it takes 34 µs for 1 row and 6.1 ms for 512, where a dense bf16 matmul on the same weights
(dequantised once) takes 71 µs and 2.5 ms. So the engine keeps a bf16 copy of every int4 projection and
sends each row of a forward pass down one of the two paths. In a whole engine step the projections are
only part of the work (attention, RoPE and the KV writes are the rest): a step that prefills 512 prompt
tokens of SmolLM2 went from 0.84 s to 0.45 s (2 threads, 16 requests of 128 tokens).

Which path a row takes must not depend on what else is in the batch, or a request's tokens would change
with the traffic around it (the engine promises that a request decodes the same alone or among 32 others).
Both kernels give each row a result that does not depend on the other rows (checked in the tests), so the
rule looks at the row's own token only: a token of the request's prompt takes the dense path, a generated
token (a decoding step, a speculative draft being verified, a generated token recomputed after preemption)
takes int4. However the scheduler cuts a prompt into chunks beside other requests, each of its tokens
takes the same path it takes alone.

What it costs and what it does not promise: the copy takes 2 bytes per projection weight (212 MB for
SmolLM2-135M), paid when the engine starts, and `Engine(..., dense_prefill=False)` turns it off. The two
paths round differently in the last bf16 bit, so a new prompt that reuses cached blocks which another
request generated sees keys and values a bf16 ulp away from computing them itself (vLLM's prefix cache
makes the same trade).

    with routing(RowRoute.of(prompt_rows, total)):
        logits = model(...)     # every Int4WeightOnlyLinear that has a dense copy splits its rows
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class RowRoute:
    """Which of a forward pass's `total` rows take the dense path; the others take int4."""

    total: int
    dense: Tensor  # (n,) row indices
    int4: Tensor  # (total - n,) row indices

    @classmethod
    def of(cls, dense_rows: list[int], total: int, device: torch.device | str = "cpu") -> RowRoute:
        chosen = set(dense_rows)
        rest = [row for row in range(total) if row not in chosen]
        return cls(total, _indices(sorted(chosen), device), _indices(rest, device))

    def apply(self, x: Tensor, dense_weight: Tensor, int4_mm: Callable[[Tensor], Tensor]) -> Tensor:
        """y = x Wᵀ for x (total, in) in bf16, each row by its path."""
        if not self.int4.numel():
            return _dense_rows(x, dense_weight)
        if not self.dense.numel():
            return int4_mm(x)
        out = x.new_empty(x.shape[0], dense_weight.shape[0])
        out.index_copy_(0, self.dense, _dense_rows(x.index_select(0, self.dense), dense_weight))
        out.index_copy_(0, self.int4, int4_mm(x.index_select(0, self.int4)))
        return out


def _dense_rows(x: Tensor, weight: Tensor) -> Tensor:
    """x Wᵀ in bf16, each row rounded the same however many rows come with it. oneDNN sends a lone row to
    its one-row kernel, which sums a long row (SmolLM2's 1536-wide down projection) in another order than
    its many-row kernel, so about one output in ten thousand lands a bf16 ulp away; a prompt token alone
    in a step (a chunk's last token, a prompt mostly served from the prefix cache) is computed as two rows."""
    if x.shape[0] == 1:
        return F.linear(x.repeat(2, 1), weight)[:1]
    return F.linear(x, weight)


def _indices(rows: list[int], device: torch.device | str) -> Tensor:
    return torch.tensor(rows, dtype=torch.long, device=device)


_route: ContextVar[RowRoute | None] = ContextVar("glossa_row_route", default=None)


def current_route() -> RowRoute | None:
    return _route.get()


@contextlib.contextmanager
def routing(route: RowRoute | None) -> Iterator[None]:
    token = _route.set(route)
    try:
        yield
    finally:
        _route.reset(token)


def keep_dense_copies(layers: nn.Module) -> int:
    """Give every int4 projection under `layers` its dense bf16 weight (once: a second engine on the same
    model shares them); returns the bytes the copies take, 0 for a model without int4 projections."""
    from glossa.infer.quantized import Int4WeightOnlyLinear

    held = 0
    for module in layers.modules():
        if isinstance(module, Int4WeightOnlyLinear):
            if module.dense is None:
                module.dense = module.dequantized_weight().to(torch.bfloat16)
            held += module.dense.numel() * module.dense.element_size()
    return held

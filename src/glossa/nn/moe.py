"""Mixture of experts (MoE): many feed-forward "experts", a router that picks a few of them for each token.

A dense FFN spends the same compute on every token. An MoE layer holds N expert FFNs and a gating network
(one linear layer: d_model → N logits) that decides, per token and at run time, which experts see it
(dynamic routing); only those run (conditional computation), so parameters grow with N while the work per
token grows with k. Three gatings:

    soft  every expert runs on every token, outputs blended by the softmax weights (Jacobs et al., 1991);
          fully differentiable, no savings: the reference the sparse kinds approximate (top_k is ignored)
    hard  each token goes to its argmax expert, output scaled by that expert's softmax probability, not
          by 1, so the router still gets a gradient (Switch Transformer; top_k is ignored, k = 1)
    topk  each token goes to its k best experts; their softmax weights are RENORMALISED to sum to 1 over
          the chosen k, as Mixtral does (so top-k with k = N is exactly the soft mixture)

Dispatch is a gather and a scatter, never a dense pass: the (token, expert) assignments are sorted by expert,
each expert takes its slice with `index_select`, runs on just those rows, and `index_add_` scatters the
weighted results back. The assignments are ordered choice-major before the (stable) sort, so inside an
expert all first choices come before any second choice, then token order: with a capacity factor, an expert
keeps at most ceil(capacity_factor · tokens · k / N) assignments in that priority and drops the rest; a
dropped assignment contributes zero, and the residual connection around the layer carries the token.

Every forward leaves `self.aux` (an `MoEAux`):
- `load_balancing_loss` = N · Σ_i f_i · P_i (Switch Transformer): f_i is the fraction of the token→expert
  assignments routed to expert i before capacity (for soft gating, of the tokens whose argmax is i), P_i the
  mean router probability of i. A uniform router gives exactly 1, its minimum; a router that collapses onto
  one expert approaches N.
- `router_z_loss` = mean over tokens of logsumexp(logits)² (ST-MoE), keeping logits small and routing stable.
- `expert_load` (tokens each expert actually processed), `routed_load` (before capacity), `dropped_tokens`.
The losses are differentiable tensors; weight them into the training loss (the Transformer does).

`HierarchicalMoE` routes in two levels: a group router picks groups, then an expert router picks experts
inside each chosen group (Jordan & Jacobs, 1994); a token's weight for an expert is the product of the two.

    >>> moe = MoEFeedForward(64, 128, n_experts=8, top_k=2, capacity_factor=1.25)
    >>> y = moe(torch.randn(4, 16, 64)); moe.aux.expert_load.sum() + moe.aux.dropped_tokens
    tensor(128)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from glossa.errors import GlossaError
from glossa.nn.mlp import ACTIVATIONS

GATINGS = ("topk", "soft", "hard")


@dataclass
class MoEAux:
    """What one MoE forward routed, and its auxiliary losses (read as `aux.name` or `aux["name"]`)."""

    load_balancing_loss: Tensor  # scalar; 1.0 for a perfectly uniform router
    router_z_loss: Tensor  # scalar
    expert_load: Tensor  # (n_experts,) int64: tokens each expert processed
    dropped_tokens: int  # assignments dropped by the capacity limit
    routed_load: Tensor  # (n_experts,) int64: assignments before the capacity limit
    capacity: int | None  # assignments each expert may take, None = unlimited
    group_load: Tensor | None = None  # HierarchicalMoE: assignments per group

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


class Expert(nn.Module):
    """One expert: a feed-forward network with its own weights, gated (SwiGLU/GeGLU) or plain."""

    def __init__(
        self, d_model: int, d_ff: int, activation: str = "silu", gated: bool = True, bias: bool = False
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise GlossaError(f"unknown activation {activation!r}: use one of {', '.join(ACTIVATIONS)}")
        self.activation = ACTIVATIONS[activation]
        self.gate = nn.Linear(d_model, d_ff, bias=bias) if gated else None
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.down = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.gate is None:
            return self.down(self.activation(self.up(x)))
        return self.down(self.activation(self.gate(x)) * self.up(x))


def select_experts(probs: Tensor, k: int, gating: str) -> tuple[Tensor, Tensor]:
    """Router probabilities (T, N) → chosen expert ids and their weights, both (T, k'), best choice first."""
    if gating == "soft":
        ids = torch.arange(probs.shape[-1], device=probs.device).expand(probs.shape)
        return ids, probs
    if gating == "hard":
        weights, ids = probs.max(dim=-1, keepdim=True)
        return ids, weights
    weights, ids = probs.topk(k, dim=-1)
    return ids, weights / weights.sum(dim=-1, keepdim=True)


def expert_capacity(capacity_factor: float | None, n_tokens: int, k: int, n_experts: int) -> int | None:
    """ceil(capacity_factor · tokens · k / N); rounding noise (1.6 · 10 / 4 = 4.000…1) does not add a slot."""
    if capacity_factor is None:
        return None
    return math.ceil(round(capacity_factor * n_tokens * k / n_experts, 9))


def dispatch(
    x: Tensor, ids: Tensor, weights: Tensor, experts: nn.ModuleList, capacity: int | None
) -> tuple[Tensor, Tensor, Tensor]:
    """Run each expert on its tokens only and sum the weighted outputs: returns (out, load, routed).

    x: (T, d); ids, weights: (T, k), column 0 the first choice."""
    n_tokens, k = ids.shape
    n_experts = len(experts)
    flat_ids = ids.t().reshape(-1)  # choice-major: every first choice, then every second choice, ...
    flat_tokens = torch.arange(n_tokens, device=x.device).repeat(k)
    flat_weights = weights.t().reshape(-1)
    order = torch.argsort(flat_ids, stable=True)  # grouped by expert, priority order kept inside each group
    routed = torch.bincount(flat_ids, minlength=n_experts)
    load = routed
    if capacity is not None:
        starts = torch.cumsum(routed, 0) - routed
        place_in_expert = torch.arange(order.numel(), device=x.device) - starts[flat_ids[order]]
        order = order[place_in_expert < capacity]
        load = routed.clamp(max=capacity)
    out = torch.zeros_like(x)
    for expert, assignments in zip(experts, order.split(load.tolist()), strict=True):
        if assignments.numel() == 0:
            continue
        tokens = flat_tokens[assignments]
        y = expert(x.index_select(0, tokens)) * flat_weights[assignments].unsqueeze(-1).to(x.dtype)
        out.index_add_(0, tokens, y)
    return out, load, routed


def balancing_loss(probs: Tensor, routed: Tensor) -> Tensor:
    """Switch Transformer's N · Σ_i f_i · P_i: f from the counts `routed`, P the mean probabilities."""
    fraction = routed.to(probs.dtype) / routed.sum().clamp(min=1)
    mean_probs = probs.sum(dim=0) / max(probs.shape[0], 1)  # no NaN for an empty batch
    return probs.shape[-1] * (fraction * mean_probs).sum()


def z_loss(logits: Tensor) -> Tensor:
    """ST-MoE's router z-loss: the mean squared log-partition of the router logits."""
    squares = torch.logsumexp(logits, dim=-1).square()
    return squares.sum() / max(squares.numel(), 1)


def _at_least_fp32(logits: Tensor) -> Tensor:
    """Router softmax in fp32 even for bf16/fp16 models (small logit differences decide the routing)."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def _check(gating: str, top_k: int, n_choices: int, capacity_factor: float | None, what: str) -> None:
    if gating not in GATINGS:
        raise GlossaError(f"unknown gating {gating!r}: use one of {', '.join(GATINGS)}")
    if not 1 <= top_k <= n_choices:
        raise GlossaError(f"{what}={top_k} must be between 1 and the number of choices, {n_choices}")
    if capacity_factor is not None and not capacity_factor > 0:
        raise GlossaError(f"capacity_factor must be positive (or None for no limit), not {capacity_factor}")


def _effective_k(gating: str, top_k: int, n_choices: int) -> int:
    return {"soft": n_choices, "hard": 1}.get(gating, top_k)


class MoEFeedForward(nn.Module):
    """A drop-in replacement for the transformer's FFN: (..., d_model) → (..., d_model), routed per token.

    `router_noise` (extra, default 0): standard deviation of Gaussian noise added to the router logits while
    training, a fixed-scale version of Shazeer et al.'s noisy top-k gating that spreads early load."""

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        n_experts: int,
        *,
        top_k: int = 2,
        gating: str = "topk",
        capacity_factor: float | None = None,
        activation: str = "silu",
        gated: bool = True,
        bias: bool = False,
        router_noise: float = 0.0,
    ) -> None:
        super().__init__()
        if n_experts < 1:
            raise GlossaError(f"an MoE layer needs at least one expert, not {n_experts}")
        _check(gating, top_k, n_experts, capacity_factor, "top_k")
        self.n_experts, self.top_k, self.gating = n_experts, top_k, gating
        self.capacity_factor, self.router_noise = capacity_factor, router_noise
        self.router = nn.Linear(d_model, n_experts, bias=False)  # the gating network
        self.experts = nn.ModuleList(Expert(d_model, d_ff, activation, gated, bias) for _ in range(n_experts))
        self.aux: MoEAux | None = None

    @property
    def experts_per_token(self) -> int:
        return _effective_k(self.gating, self.top_k, self.n_experts)

    def forward(self, x: Tensor) -> Tensor:
        tokens = x.reshape(-1, x.shape[-1])
        logits = _at_least_fp32(self.router(tokens))
        if self.training and self.router_noise > 0:
            logits = logits + self.router_noise * torch.randn_like(logits)
        probs = logits.softmax(dim=-1)
        ids, weights = select_experts(probs, self.top_k, self.gating)
        capacity = expert_capacity(self.capacity_factor, tokens.shape[0], ids.shape[1], self.n_experts)
        out, load, routed = dispatch(tokens, ids, weights, self.experts, capacity)
        if self.gating == "soft":  # every expert gets every token: count each token's favourite instead
            routed_for_balance = torch.bincount(probs.argmax(-1), minlength=self.n_experts)
        else:
            routed_for_balance = routed
        self.aux = MoEAux(
            load_balancing_loss=balancing_loss(probs, routed_for_balance),
            router_z_loss=z_loss(logits),
            expert_load=load,
            dropped_tokens=int(routed.sum() - load.sum()),
            routed_load=routed,
            capacity=capacity,
        )
        return out.reshape(x.shape)

    def extra_repr(self) -> str:
        return f"gating={self.gating}, top_k={self.top_k}, capacity_factor={self.capacity_factor}"


class HierarchicalMoE(nn.Module):
    """Two-level MoE: `n_groups` groups of `experts_per_group` experts. The group router picks `top_k_groups`
    groups, then the expert router picks `top_k` experts inside each; weight = group weight × expert weight,
    both chosen by the same `gating` rule. The balancing loss is the flat one over all n_groups ·
    experts_per_group experts with the joint probability p(group) · p(expert | group), so one group whose
    router is zero is exactly a flat `MoEFeedForward`."""

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        n_groups: int,
        experts_per_group: int,
        *,
        top_k_groups: int = 1,
        top_k: int = 1,
        gating: str = "topk",
        capacity_factor: float | None = None,
        activation: str = "silu",
        gated: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        if n_groups < 1 or experts_per_group < 1:
            raise GlossaError(
                f"need at least one group and one expert per group, not {n_groups} × {experts_per_group}"
            )
        _check(gating, top_k_groups, n_groups, capacity_factor, "top_k_groups")
        _check(gating, top_k, experts_per_group, capacity_factor, "top_k")
        self.n_groups, self.experts_per_group = n_groups, experts_per_group
        self.top_k_groups, self.top_k, self.gating = top_k_groups, top_k, gating
        self.capacity_factor = capacity_factor
        self.group_router = nn.Linear(d_model, n_groups, bias=False)
        self.expert_router = nn.Linear(
            d_model, n_groups * experts_per_group, bias=False
        )  # all groups at once
        n_experts = n_groups * experts_per_group
        self.experts = nn.ModuleList(Expert(d_model, d_ff, activation, gated, bias) for _ in range(n_experts))
        self.aux: MoEAux | None = None

    @property
    def n_experts(self) -> int:
        return self.n_groups * self.experts_per_group

    def forward(self, x: Tensor) -> Tensor:
        tokens = x.reshape(-1, x.shape[-1])
        n_tokens, per_group = tokens.shape[0], self.experts_per_group
        group_logits = _at_least_fp32(self.group_router(tokens))
        expert_logits = _at_least_fp32(self.expert_router(tokens)).reshape(n_tokens, self.n_groups, per_group)
        group_probs, expert_probs = group_logits.softmax(-1), expert_logits.softmax(-1)
        group_ids, group_weights = select_experts(group_probs, self.top_k_groups, self.gating)
        chosen = expert_probs.gather(1, group_ids.unsqueeze(-1).expand(-1, -1, per_group))  # (T, kg, E)
        inner_ids, inner_weights = select_experts(chosen.reshape(-1, per_group), self.top_k, self.gating)
        inner_ids = inner_ids.reshape(n_tokens, group_ids.shape[1], -1)
        inner_weights = inner_weights.reshape(n_tokens, group_ids.shape[1], -1)
        ids = (group_ids.unsqueeze(-1) * per_group + inner_ids).flatten(1)  # global expert ids, best first
        weights = (group_weights.unsqueeze(-1) * inner_weights).flatten(1)
        capacity = expert_capacity(self.capacity_factor, n_tokens, ids.shape[1], self.n_experts)
        out, load, routed = dispatch(tokens, ids, weights, self.experts, capacity)
        joint_probs = (group_probs.unsqueeze(-1) * expert_probs).flatten(1)
        if self.gating == "soft":
            routed_for_balance = torch.bincount(joint_probs.argmax(-1), minlength=self.n_experts)
        else:
            routed_for_balance = routed
        self.aux = MoEAux(
            load_balancing_loss=balancing_loss(joint_probs, routed_for_balance),
            router_z_loss=z_loss(group_logits) + z_loss(expert_logits),
            expert_load=load,
            dropped_tokens=int(routed.sum() - load.sum()),
            routed_load=routed,
            capacity=capacity,
            group_load=routed.reshape(self.n_groups, per_group).sum(-1),
        )
        return out.reshape(x.shape)

"""How far apart two next-token distributions are: KL and Jensen–Shannon divergence, from logits.

    KL(P ‖ Q) = Σ_x P(x) (log P(x) − log Q(x))       ≥ 0, = 0 iff P = Q, not symmetric
    JS(P, Q)  = ½ KL(P ‖ M) + ½ KL(Q ‖ M),  M = ½ (P + Q)      symmetric, 0 ≤ JS ≤ ln 2

Both work in log space: log-softmax of the logits (never log of a softmax, which underflows to log 0 = -inf
for unlikely tokens), and log M = logsumexp(log P, log Q) − ln 2. Terms with P(x) = 0 contribute 0 (the limit
of p log p), so a token masked to -inf in both distributions is harmless; one that P allows and Q forbids
makes KL infinite, as it should. Inputs are [..., V] logits; the result has the leading shape. Uses: how much
a quantized model or a sampling filter changes the distribution, the RLHF reference penalty, distillation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _kl_from_logprobs(log_p: Tensor, log_q: Tensor) -> Tensor:
    terms = log_p.exp() * (log_p - log_q)
    return torch.where(log_p == -torch.inf, torch.zeros_like(terms), terms).sum(dim=-1)


def kl_divergence(p_logits: Tensor, q_logits: Tensor) -> Tensor:
    """KL(P ‖ Q) in nats, P = softmax(p_logits), Q = softmax(q_logits), over the last axis."""
    return _kl_from_logprobs(p_logits.double().log_softmax(-1), q_logits.double().log_softmax(-1)).float()


def js_divergence(p_logits: Tensor, q_logits: Tensor) -> Tensor:
    """Jensen–Shannon divergence in nats (at most ln 2), over the last axis."""
    log_p = p_logits.double().log_softmax(-1)
    log_q = q_logits.double().log_softmax(-1)
    log_m = torch.logaddexp(log_p, log_q) - math.log(2)
    return (0.5 * _kl_from_logprobs(log_p, log_m) + 0.5 * _kl_from_logprobs(log_q, log_m)).float()

"""Optimizers, written out (seed §11 Gradient Descent, SGD, Adam): each update rule in a few lines.

    SGD       v = μ·v + g (+ weight decay in g);  p -= lr · (g + μ·v if nesterov else v)
    Adam      m, v: moving averages of g and g²; bias-corrected; p -= lr · m̂ / (√v̂ + ε); weight decay is
              L2 (added to g), as torch.optim.Adam does
    AdamW     the same, with decoupled weight decay p -= lr · wd · p applied before the step (Loshchilov &
              Hutter), so decay does not pass through the adaptive denominator
    Muon      for the 2-D matrices inside the blocks: momentum, then the update is orthogonalised by a
              Newton–Schulz iteration (modded-nanogpt/nanochat) so every direction moves by the same amount;
              everything else (embeddings, head, norms, biases) goes to AdamW in the same optimizer

Parameter groups (`param_groups`): weight decay only on matrices; none on norms, biases or embeddings (and so
none on a tied output head) — decaying a gain or an embedding row pulls it to zero for no benefit.

All of them are `torch.optim.Optimizer`s, so `state_dict()`/`load_state_dict()` work for checkpoints and the
schedule sets `group["lr"] = group["initial_lr"] · multiplier` each step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # modded-nanogpt's quintic: fast to ~orthogonal, not exact


def is_no_decay(name: str, parameter: Tensor) -> bool:
    return parameter.dim() < 2 or "norm" in name or name.startswith(("embed.", "positions.", "token_types."))


def is_muon_matrix(name: str, parameter: Tensor) -> bool:
    """Muon's parameters: the 2-D weights inside blocks (not embeddings, not the output head)."""
    return parameter.dim() == 2 and name.startswith(("layers.", "encoder_layers.")) and "norm" not in name


def _named_unique(model: nn.Module) -> list[tuple[str, Tensor]]:
    seen: set[int] = set()
    out = []
    for name, parameter in model.named_parameters():  # tied tensors appear once, under their first name
        if parameter.requires_grad and id(parameter) not in seen:
            seen.add(id(parameter))
            out.append((_strip(name), parameter))
    return out


def _strip(name: str) -> str:
    for prefix in ("module.", "_orig_mod.", "_fsdp_wrapped_module."):
        name = name.replace(prefix, "")
    return name


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, parameter in _named_unique(model):
        (no_decay if is_no_decay(name, parameter) else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


class SGD(torch.optim.Optimizer):
    def __init__(
        self,
        params: Iterable,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                if mu:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = g.clone()
                    else:
                        state["momentum_buffer"].mul_(mu).add_(g)
                    v = state["momentum_buffer"]
                    g = g.add(v, alpha=mu) if group["nesterov"] else v
                p.add_(g, alpha=-group["lr"])


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay; `decoupled=False` is plain Adam (L2 in the gradient)."""

    def __init__(
        self,
        params: Iterable,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        decoupled: bool = True,
    ) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
        self.decoupled = decoupled

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            adam_group_update(group, self.state, decoupled=self.decoupled)


def adam_group_update(group: dict, states: dict, *, decoupled: bool = True) -> None:
    """One Adam(W) step for every parameter of `group` that has a gradient, as a handful of `_foreach` ops
    over the whole group (one dispatch per op instead of one per op per tensor: at small scale the step is
    dispatch-bound). Element for element it is the same arithmetic as the per-tensor rule:

        p ← p·(1 − lr·wd)            (AdamW; Adam adds wd·p to g instead)
        m ← m + (1 − β1)(g − m)      v ← β2·v + (1 − β2)·g²
        p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
    """
    params = [p for p in group["params"] if p.grad is not None]
    if not params:
        return
    grads = [p.grad for p in params]
    beta1, beta2 = group["betas"]
    lr, wd = group["lr"], group["weight_decay"]
    for p in params:
        if not states[p]:
            zeros = torch.zeros_like
            states[p].update(step=torch.zeros(()), exp_avg=zeros(p), exp_avg_sq=zeros(p))
    state = [states[p] for p in params]
    steps = [s["step"] for s in state]
    exp_avgs = [s["exp_avg"] for s in state]
    exp_avg_sqs = [s["exp_avg_sq"] for s in state]
    if wd and decoupled:
        torch._foreach_mul_(params, 1 - lr * wd)
    elif wd:
        grads = torch._foreach_add(grads, params, alpha=wd)
    torch._foreach_add_(steps, 1)
    counts = [step.item() for step in steps]
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    denominators = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denominators, [math.sqrt(1 - beta2**t) for t in counts])
    torch._foreach_add_(denominators, group["eps"])
    torch._foreach_addcdiv_(params, exp_avgs, denominators, [-lr / (1 - beta1**t) for t in counts])


def newton_schulz(g: Tensor, steps: int = 5, eps: float = 1e-7) -> Tensor:
    """An approximately orthogonal matrix with the row/column space of g (≈ U·Vᵀ of g's SVD), by the quintic
    iteration X ← aX + (bA + cA²)X, A = XXᵀ, after scaling g so its spectral norm is at most 1."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    transposed = x.size(0) > x.size(1)
    if transposed:
        x = x.T
    x = x / (x.norm() + eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if transposed else x


class Muon(torch.optim.Optimizer):
    """Muon for block matrices (groups with `muon=True`), AdamW for the rest, in one optimizer."""

    def __init__(self, groups: list[dict], ns_steps: int = 5) -> None:
        super().__init__(
            groups, dict(muon=False, momentum=0.95, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
        )
        self.ns_steps = ns_steps

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            if not group["muon"]:
                adam_group_update(group, self.state)
                continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buffer = state["momentum_buffer"]
                buffer.lerp_(p.grad, 1 - group["momentum"])
                update = p.grad.lerp(buffer, group["momentum"])  # Nesterov
                update = newton_schulz(update, self.ns_steps).to(p.dtype)
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                scale = max(1.0, p.size(0) / p.size(1)) ** 0.5
                p.add_(update, alpha=-group["lr"] * scale)


def build_optimizer(model: nn.Module, optim) -> torch.optim.Optimizer:
    """The optimizer an `OptimConfig` names, over `model`'s parameters."""
    name = optim.name
    if name == "sgd":
        return SGD(param_groups(model, optim.weight_decay), optim.lr, optim.momentum, nesterov=optim.nesterov)
    if name in ("adam", "adamw"):
        groups = param_groups(model, optim.weight_decay)
        return AdamW(groups, optim.lr, tuple(optim.betas), optim.eps, decoupled=name == "adamw")
    muon, rest_decay, rest_plain = [], [], []
    for pname, parameter in _named_unique(model):
        if is_muon_matrix(pname, parameter):
            muon.append(parameter)
        elif is_no_decay(pname, parameter):
            rest_plain.append(parameter)
        else:
            rest_decay.append(parameter)
    adam = dict(betas=tuple(optim.betas), eps=optim.eps, lr=optim.lr)
    groups = [
        dict(params=muon, muon=True, lr=optim.muon_lr, momentum=optim.muon_momentum, weight_decay=0.0),
        dict(params=rest_decay, weight_decay=optim.weight_decay, **adam),
        dict(params=rest_plain, weight_decay=0.0, **adam),
    ]
    return Muon([g for g in groups if g["params"]], ns_steps=optim.ns_steps)

"""Our optimizers step for step against torch.optim; Muon's Newton–Schulz gives a near-orthogonal matrix."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from glossa.models.presets import preset
from glossa.models.transformer import Transformer
from glossa.train.config import OptimConfig
from glossa.train.optim import SGD, AdamW, build_optimizer, newton_schulz, param_groups


def _twin_models():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5), nn.Linear(5, 3))
    b = nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5), nn.Linear(5, 3))
    b.load_state_dict(a.state_dict())
    return a, b


def _run(ours, theirs, a, b, steps=25):
    torch.manual_seed(1)
    for _ in range(steps):
        x = torch.randn(4, 6)
        for model, optimizer in ((a, ours), (b, theirs)):
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_torch(nesterov):
    a, b = _twin_models()
    ours = SGD(a.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=nesterov)
    theirs = torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=nesterov)
    _run(ours, theirs, a, b)


def test_adamw_matches_torch():
    a, b = _twin_models()
    ours = AdamW(a.parameters(), lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    theirs = torch.optim.AdamW(b.parameters(), lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    _run(ours, theirs, a, b)


def test_adam_with_l2_matches_torch():
    a, b = _twin_models()
    ours = AdamW(a.parameters(), lr=1e-2, betas=(0.8, 0.99), weight_decay=0.05, decoupled=False)
    theirs = torch.optim.Adam(b.parameters(), lr=1e-2, betas=(0.8, 0.99), weight_decay=0.05)
    _run(ours, theirs, a, b)


def test_adamw_groups_match_torch_with_the_same_groups():
    a, b = _twin_models()
    ours = AdamW(param_groups(a, 0.1), lr=1e-2)
    theirs = torch.optim.AdamW(param_groups(b, 0.1), lr=1e-2)
    _run(ours, theirs, a, b)


def test_no_weight_decay_on_norms_biases_embeddings():
    model = Transformer(preset("llama-tiny", tie_embeddings=True))
    names = {id(p): n for n, p in model.named_parameters()}
    decay, no_decay = param_groups(model, 0.1)
    assert no_decay["weight_decay"] == 0.0
    assert all("norm" not in names[id(p)] and "embed" not in names[id(p)] for p in decay["params"])
    assert any("embed" in names[id(p)] for p in no_decay["params"])
    assert all(p.dim() == 2 for p in decay["params"])


@pytest.mark.parametrize("shape", [(64, 64), (32, 96), (96, 32)])
def test_newton_schulz_is_near_orthogonal(shape):
    torch.manual_seed(0)
    g = torch.randn(shape)
    x = newton_schulz(g, steps=10)  # 5 (Muon's default) leaves g's very smallest singular values short
    small = min(shape)
    gram = x @ x.T if shape[0] <= shape[1] else x.T @ x
    singular = torch.linalg.svdvals(x)
    # the quintic trades exactness for speed: singular values land in roughly [0.7, 1.2], not exactly 1
    assert singular.min() > 0.6 and singular.max() < 1.25
    assert (gram - torch.eye(small)).abs().max() < 0.5
    u, _, vt = torch.linalg.svd(g, full_matrices=False)
    assert torch.nn.functional.cosine_similarity((u @ vt).flatten(), x.flatten(), dim=0) > 0.97


def test_muon_splits_matrices_from_the_rest_and_trains():
    torch.manual_seed(0)
    model = Transformer(preset("llama-tiny"))
    optimizer = build_optimizer(model, OptimConfig(name="muon", lr=3e-3, muon_lr=0.02))
    muon = next(g for g in optimizer.param_groups if g["muon"])
    assert all(p.dim() == 2 for p in muon["params"])
    x = torch.randint(0, 256, (4, 16))
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        logits = model(x[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0

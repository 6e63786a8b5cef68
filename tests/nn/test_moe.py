"""The mixture-of-experts FFN: gating kinds against hand-computed mixtures, capacity and drop counting on
hand-built routings, the Switch balancing loss at its minimum, gradients through the gather/scatter graph, the
two-level variant, and a small task that experts learn to split between them."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from glossa.errors import GlossaError
from glossa.nn.mlp import FeedForward
from glossa.nn.moe import HierarchicalMoE, MoEAux, MoEFeedForward, expert_capacity

D_MODEL, D_FF = 16, 24


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_moe(n_experts: int = 4, seed: int = 0, **options) -> MoEFeedForward:
    torch.manual_seed(seed)
    return MoEFeedForward(D_MODEL, D_FF, n_experts, **options)


def every_expert(moe: MoEFeedForward, x: torch.Tensor) -> torch.Tensor:
    """(T, N, d): what each expert says about each token, computed densely for reference."""
    return torch.stack([expert(x) for expert in moe.experts], dim=1)


def router_probs(moe: MoEFeedForward, x: torch.Tensor) -> torch.Tensor:
    return moe.router(x).float().softmax(-1)


def route_everything_to(moe: MoEFeedForward, preferences: list[list[int]]) -> torch.Tensor:
    """Inputs and router weights such that token t ranks the experts in `preferences[t]` order first.

    Token t is the one-hot vector e_t; router row i gives token t the logit 10 · (N - rank of i for t)."""
    n_tokens = len(preferences)
    weight = torch.zeros(moe.n_experts, D_MODEL)
    for token, ranking in enumerate(preferences):
        for rank, expert in enumerate(ranking):
            weight[expert, token] = 10.0 * (moe.n_experts - rank)
    with torch.no_grad():
        moe.router.weight.copy_(weight)
    return torch.eye(D_MODEL)[:n_tokens]


def test_output_has_the_input_shape_and_aux_is_filled():
    moe = make_moe(top_k=2)
    x = torch.randn(3, 5, D_MODEL)
    assert moe(x).shape == x.shape
    assert isinstance(moe.aux, MoEAux)
    assert moe.aux.expert_load.dtype == torch.int64 and moe.aux.expert_load.shape == (4,)
    assert int(moe.aux.expert_load.sum()) == 3 * 5 * 2 and moe.aux.dropped_tokens == 0
    assert moe.aux["load_balancing_loss"] is moe.aux.load_balancing_loss  # the Transformer reads it as a dict


def test_soft_gating_is_the_softmax_weighted_mixture_of_all_experts():
    moe = make_moe(gating="soft")
    x = torch.randn(20, D_MODEL)
    expected = (router_probs(moe, x).unsqueeze(-1) * every_expert(moe, x)).sum(1)
    torch.testing.assert_close(moe(x), expected, atol=1e-6, rtol=1e-6)
    assert moe.aux.expert_load.tolist() == [20] * 4


def test_topk_with_k_equal_n_is_the_soft_mixture():
    moe = make_moe(top_k=4, gating="topk")
    x = torch.randn(32, D_MODEL)
    sparse = moe(x)
    moe.gating = "soft"
    assert (sparse - moe(x)).abs().max() <= 1e-6


def test_topk_weights_are_the_softmax_renormalised_over_the_chosen_k():
    moe = make_moe(top_k=2)
    x = torch.randn(16, D_MODEL)
    probs = router_probs(moe, x)
    top, ids = probs.topk(2, dim=-1)
    weights = top / top.sum(-1, keepdim=True)
    outputs = every_expert(moe, x).gather(1, ids.unsqueeze(-1).expand(-1, -1, D_MODEL))
    torch.testing.assert_close(moe(x), (weights.unsqueeze(-1) * outputs).sum(1), atol=1e-6, rtol=1e-6)


def test_hard_gating_is_top1_scaled_by_its_probability():
    moe = make_moe(gating="hard", top_k=1)
    x = torch.randn(16, D_MODEL)
    probs = router_probs(moe, x)
    best_prob, best = probs.max(-1)
    chosen = every_expert(moe, x)[torch.arange(16), best]
    torch.testing.assert_close(moe(x), best_prob.unsqueeze(-1) * chosen, atol=1e-6, rtol=1e-6)
    assert moe.aux.expert_load.tolist() == torch.bincount(best, minlength=4).tolist()
    moe.gating = "topk"  # top-1 renormalised: the same expert, weight exactly 1
    torch.testing.assert_close(moe(x), chosen, atol=1e-6, rtol=1e-6)


def test_balancing_loss_is_one_for_a_uniform_router_and_larger_when_skewed():
    for gating, top_k in [("topk", 2), ("hard", 1), ("soft", 4)]:
        moe = make_moe(gating=gating, top_k=top_k)
        with torch.no_grad():
            moe.router.weight.zero_()
        moe(torch.randn(64, D_MODEL))
        assert moe.aux.load_balancing_loss.item() == pytest.approx(1.0, abs=1e-6)
        assert moe.aux.router_z_loss.item() == pytest.approx(math.log(4) ** 2, rel=1e-6)
    moe = make_moe(top_k=2)
    x = route_everything_to(moe, [[0, 1, 2, 3]] * 8)
    moe(x)
    skewed = moe.aux.load_balancing_loss.item()
    assert 1.9 < skewed <= 2.0 + 1e-6  # f = (1/2, 1/2, 0, 0), P ≈ (1, 0, 0, 0): N · ½ · 1 = 2
    moe = make_moe(top_k=2)
    moe(torch.randn(256, D_MODEL))
    assert 1.0 <= moe.aux.load_balancing_loss.item() < skewed


def test_router_z_loss_is_the_mean_squared_logsumexp():
    moe = make_moe(top_k=2)
    x = torch.randn(10, D_MODEL)
    moe(x)
    expected = torch.logsumexp(moe.router(x), -1).square().mean()
    torch.testing.assert_close(moe.aux.router_z_loss, expected)


def test_capacity_drops_are_counted_exactly():
    moe = make_moe(gating="hard", top_k=1, capacity_factor=1.6)  # ceil(1.6 · 10 · 1 / 4) = 4
    x = route_everything_to(moe, [[0, 1, 2, 3]] * 8 + [[0, 2, 1, 3]] * 2)
    y = moe(x)
    assert moe.aux.capacity == 4
    assert moe.aux.routed_load.tolist() == [10, 0, 0, 0]
    assert moe.aux.expert_load.tolist() == [4, 0, 0, 0]
    assert moe.aux.dropped_tokens == 6
    assert y[:4].abs().sum(-1).gt(0).all()  # first come, first served
    assert torch.equal(y[4:], torch.zeros(6, D_MODEL))  # dropped: zero, the residual carries them


def test_capacity_keeps_first_choices_before_second_choices():
    """Tokens 0-3 prefer expert 0 then 1, tokens 4-7 expert 1 then 0; capacity 4 = only first choices fit."""
    moe = make_moe(top_k=2, capacity_factor=1.0)  # ceil(1.0 · 8 · 2 / 4) = 4
    x = route_everything_to(moe, [[0, 1, 2, 3]] * 4 + [[1, 0, 2, 3]] * 4)
    y = moe(x)
    assert moe.aux.expert_load.tolist() == [4, 4, 0, 0] and moe.aux.dropped_tokens == 8
    probs = router_probs(moe, x)
    first = torch.tensor([0] * 4 + [1] * 4)
    weight_first = probs[torch.arange(8), first] / probs.topk(2, -1).values.sum(-1)
    expected = weight_first.unsqueeze(-1) * every_expert(moe, x)[torch.arange(8), first]
    torch.testing.assert_close(y, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("gating,top_k", [("topk", 2), ("hard", 1), ("topk", 3)])
def test_expert_load_sums_to_tokens_times_k_minus_drops(gating, top_k):
    moe = make_moe(n_experts=6, gating=gating, top_k=top_k, capacity_factor=0.8, seed=3)
    tokens = 50
    moe(torch.randn(tokens, D_MODEL) * 3)
    aux = moe.aux
    assert aux.capacity == expert_capacity(0.8, tokens, top_k, 6) == math.ceil(0.8 * tokens * top_k / 6)
    assert int(aux.routed_load.sum()) == tokens * top_k
    assert int(aux.expert_load.sum()) == tokens * top_k - aux.dropped_tokens
    assert aux.dropped_tokens == int((aux.routed_load - aux.capacity).clamp(min=0).sum()) > 0
    assert int(aux.expert_load.max()) <= aux.capacity


def test_capacity_rounding_noise_adds_no_slot():
    assert expert_capacity(1.6, 10, 1, 4) == 4
    assert expert_capacity(1.25, 8, 2, 4) == 5
    assert expert_capacity(None, 8, 2, 4) is None


def test_experts_only_run_on_their_tokens():
    """Conditional computation: each expert sees exactly its routed rows; the total is tokens · k."""
    for n_experts in (4, 16):
        moe = make_moe(n_experts=n_experts, top_k=2)
        rows: list[int] = []

        def count_rows(module, args, out, rows=rows):
            rows.append(args[0].shape[0])

        for expert in moe.experts:
            expert.register_forward_hook(count_rows)
        moe(torch.randn(40, D_MODEL))
        assert sum(rows) == 80 == int(moe.aux.expert_load.sum())  # per-token work independent of N
        assert sorted(rows) == sorted(n for n in moe.aux.expert_load.tolist() if n)


def test_parameters_grow_with_experts_while_active_parameters_stay():
    """Scalability: 4x the experts is ~4x the parameters, but each token still uses k experts' worth."""

    def counts(n_experts: int) -> tuple[int, int]:
        moe = make_moe(n_experts=n_experts, top_k=2)
        per_expert = sum(p.numel() for p in moe.experts[0].parameters())
        total = sum(p.numel() for p in moe.parameters())
        return total, moe.experts_per_token * per_expert + moe.router.weight.numel()

    (small_total, small_active), (big_total, big_active) = counts(4), counts(16)
    assert big_total > 3.5 * small_total
    assert big_active - small_active == 12 * D_MODEL  # only the router grows


def test_gradients_flow_to_router_and_to_the_experts_that_ran():
    moe = make_moe(n_experts=6, top_k=2, seed=1)
    x = torch.randn(30, D_MODEL, requires_grad=True)
    y = moe(x)
    (y.square().mean() + 0.01 * moe.aux.load_balancing_loss + 0.001 * moe.aux.router_z_loss).backward()
    assert moe.router.weight.grad.abs().sum() > 0 and x.grad.abs().sum() > 0
    for expert, load in zip(moe.experts, moe.aux.expert_load.tolist(), strict=True):
        ran = expert.up.weight.grad is not None and expert.up.weight.grad.abs().sum() > 0
        assert ran == (load > 0)


def test_hard_gating_teaches_the_router_but_renormalised_top1_does_not():
    """Switch scales by the probability so the router learns from the task loss; top-1 renormalised to 1
    gives the router no gradient from the output at all."""
    x = torch.randn(20, D_MODEL)
    for gating, learns in [("hard", True), ("topk", False)]:
        moe = make_moe(gating=gating, top_k=1)
        moe(x).square().mean().backward()
        gradient = moe.router.weight.grad.abs().max().item()
        assert gradient > 1e-4 if learns else gradient < 1e-7  # (w / w = 1: zero up to rounding)


def test_backprop_through_the_dispatch_graph_matches_finite_differences():
    torch.manual_seed(0)
    moe = MoEFeedForward(4, 6, 3, top_k=2, capacity_factor=1.0).double()
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inputs: moe(inputs), (x,), eps=1e-6, atol=1e-6)
    assert moe.aux.dropped_tokens > 0  # the graph with drops is checked too


def test_bf16_inputs_route_and_keep_their_dtype():
    moe = make_moe(top_k=2).to(torch.bfloat16)
    y = moe(torch.randn(12, D_MODEL, dtype=torch.bfloat16))
    assert y.dtype == torch.bfloat16 and torch.isfinite(y.float()).all()


def copy_into_one_group(flat: MoEFeedForward, **options) -> HierarchicalMoE:
    tree = HierarchicalMoE(D_MODEL, D_FF, 1, flat.n_experts, top_k_groups=1, **options)
    with torch.no_grad():
        tree.group_router.weight.zero_()
        tree.expert_router.weight.copy_(flat.router.weight)
    tree.experts.load_state_dict(flat.experts.state_dict())
    return tree


@pytest.mark.parametrize("gating,top_k,capacity", [("topk", 2, None), ("hard", 1, 0.9), ("soft", 4, None)])
def test_hierarchical_moe_with_one_group_is_the_flat_moe(gating, top_k, capacity):
    flat = make_moe(n_experts=4, gating=gating, top_k=top_k, capacity_factor=capacity)
    tree = copy_into_one_group(flat, gating=gating, top_k=top_k, capacity_factor=capacity)
    x = torch.randn(2, 13, D_MODEL)
    torch.testing.assert_close(tree(x), flat(x), atol=1e-6, rtol=1e-6)
    for name in ("load_balancing_loss", "router_z_loss"):
        torch.testing.assert_close(tree.aux[name], flat.aux[name])
    assert torch.equal(tree.aux.expert_load, flat.aux.expert_load)
    assert tree.aux.dropped_tokens == flat.aux.dropped_tokens
    assert tree.aux.group_load.tolist() == [int(flat.aux.routed_load.sum())]


def test_hierarchical_moe_routes_group_then_expert():
    torch.manual_seed(0)
    tree = HierarchicalMoE(D_MODEL, D_FF, n_groups=3, experts_per_group=4, top_k_groups=1, top_k=2)
    x = torch.randn(10, D_MODEL)
    y = tree(x)
    groups = tree.group_router(x).argmax(-1)
    expected = torch.zeros_like(x)
    for token in range(10):
        group = int(groups[token])
        inner = tree.expert_router(x[token]).reshape(3, 4)[group].softmax(-1)
        weights, ids = inner.topk(2)
        for weight, expert in zip(weights / weights.sum(), ids.tolist(), strict=True):
            expected[token] += weight * tree.experts[group * 4 + expert](x[token])
    torch.testing.assert_close(y, expected, atol=1e-6, rtol=1e-6)
    assert tree.aux.group_load.tolist() == [2 * int((groups == g).sum()) for g in range(3)]
    assert int(tree.aux.expert_load.sum()) == 20


def test_hierarchical_moe_capacity_and_uniform_balance():
    torch.manual_seed(0)
    tree = HierarchicalMoE(D_MODEL, D_FF, 2, 3, top_k_groups=2, top_k=1, capacity_factor=0.5)
    with torch.no_grad():
        tree.group_router.weight.zero_()
        tree.expert_router.weight.zero_()
    tree(torch.randn(24, D_MODEL))
    assert tree.aux.load_balancing_loss.item() == pytest.approx(1.0, abs=1e-6)
    assert tree.aux.capacity == 4  # ceil(0.5 · 24 · 2 / 6)
    assert int(tree.aux.expert_load.sum()) == 48 - tree.aux.dropped_tokens


@pytest.mark.parametrize(
    "options,message",
    [
        ({"gating": "noisy"}, "unknown gating"),
        ({"top_k": 5}, "top_k=5 must be between 1"),
        ({"top_k": 0}, "top_k=0 must be between 1"),
        ({"capacity_factor": 0.0}, "capacity_factor must be positive"),
        ({"activation": "swish"}, "unknown activation"),
    ],
)
def test_bad_settings_are_glossa_errors(options, message):
    with pytest.raises(GlossaError, match=message):
        MoEFeedForward(D_MODEL, D_FF, 4, **options)


def test_experts_learn_to_split_a_clustered_task():
    """Four clusters, each with its own linear map: a hard-gated (Switch) MoE of 4 small experts gives each
    cluster its own expert and beats a dense FFN of the same per-token size."""
    d, n_clusters = 16, 4
    torch.manual_seed(0)
    centers = torch.randn(n_clusters, d) * 3
    maps = torch.randn(n_clusters, d, d) / math.sqrt(d)

    def batch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cluster = torch.randint(0, n_clusters, (n,), generator=generator)
        x = centers[cluster] + 0.5 * torch.randn(n, d, generator=generator)
        return x, torch.einsum("nij,nj->ni", maps[cluster], x), cluster

    def train(model: torch.nn.Module, is_moe: bool) -> float:
        generator = torch.Generator().manual_seed(1)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(300):
            x, y, _ = batch(256, generator)
            loss = F.mse_loss(model(x), y)
            if is_moe:
                loss = loss + 0.1 * model.aux.load_balancing_loss + 1e-3 * model.aux.router_z_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            x, y, _ = held_out
            return F.mse_loss(model.eval()(x), y).item()

    held_out = batch(4096, torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    moe = MoEFeedForward(d, 32, n_experts=n_clusters, top_k=1, gating="hard")
    moe_loss = train(moe, is_moe=True)
    torch.manual_seed(0)
    dense_loss = train(FeedForward(d, 32, "swiglu"), is_moe=False)

    x, y, cluster = held_out
    with torch.no_grad():
        choice = moe.router(x).argmax(-1)
    table = torch.zeros(n_clusters, n_clusters, dtype=torch.long)
    table.index_put_((cluster, choice), torch.ones_like(cluster), accumulate=True)
    purity = table.max(1).values.sum().item() / len(cluster)
    print(f"\nMoE held-out MSE {moe_loss:.4f} vs dense {dense_loss:.4f} (target variance {y.var():.2f})")
    print(f"expert load {moe.aux.expert_load.tolist()}, cluster→expert purity {purity:.3f}\n{table}")
    assert moe_loss < 0.05 and moe_loss < dense_loss / 2
    assert purity > 0.95 and len(set(table.argmax(1).tolist())) == n_clusters  # expert specialisation


def test_router_noise_perturbs_routing_in_training_only():
    moe = make_moe(top_k=2, router_noise=1.0)
    x = torch.randn(64, D_MODEL)
    moe.train()
    loads = set()
    for _ in range(5):
        moe(x)
        loads.add(tuple(moe.aux.routed_load.tolist()))
    assert len(loads) > 1  # noisy top-k: the same tokens spread differently
    moe.eval()
    first = moe(x)
    assert torch.equal(first, moe(x))

"""The config-driven Transformer: KV-cache decoding, padding, outputs on request, each architecture, MoE."""

import pytest
import torch

from glossa.errors import GlossaError
from glossa.models.presets import preset
from glossa.models.transformer import Transformer
from glossa.nn.kv_cache import KVCache


def model_for(name: str, seed: int = 0, **overrides) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(preset(name, **overrides)).eval()


@pytest.mark.parametrize("name", ["llama-tiny", "mistral-tiny", "gpt2-small-ish", "moe-tiny"])
def test_decoding_with_a_kv_cache_equals_the_full_forward(name):
    if name == "gpt2-small-ish":
        model = model_for(
            "gpt2-small", vocab_size=64, d_model=32, n_layers=2, n_heads=4, d_ff=64, context_length=64
        )
    else:
        model = model_for(name)
    ids = torch.randint(0, model.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(ids).logits
        cache = KVCache(model.config.n_layers)
        steps = [model(ids[:, :10], cache=cache).logits]
        steps += [model(ids[:, t : t + 1], cache=cache).logits for t in range(10, 20)]
        steps.append(model(ids[:, 20:], cache=cache).logits)  # a chunk after the cache: chunked prefill
    assert cache.length == 24
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_sliding_window_limits_what_a_token_sees():
    model = model_for("mistral-tiny", n_layers=1, sliding_window=4)
    ids = torch.randint(0, 256, (1, 12), generator=torch.Generator().manual_seed(0))
    changed = ids.clone()
    changed[0, 0] = (ids[0, 0] + 1) % 256
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
    assert not torch.allclose(a[0, :4], b[0, :4])  # position 0 is inside the window of positions 0..3
    assert torch.allclose(a[0, 4:], b[0, 4:])  # and outside the window of every later position


def test_padding_does_not_change_the_real_tokens():
    model = model_for("llama-tiny")
    ids = torch.randint(0, 256, (1, 9), generator=torch.Generator().manual_seed(0))
    right = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    mask = torch.tensor([[1] * 9 + [0] * 3])
    with torch.no_grad():
        alone = model(ids).logits
        padded = model(right, attention_mask=mask).logits
    assert torch.allclose(padded[:, :9], alone, atol=1e-5)


def test_encoder_padding_and_token_types():
    model = model_for("bert-tiny")
    ids = torch.randint(5, 128, (1, 6), generator=torch.Generator().manual_seed(0))
    padded = torch.cat([ids, torch.zeros(1, 2, dtype=torch.long)], dim=1)
    with torch.no_grad():
        alone = model(ids).logits
        out = model(padded, attention_mask=torch.tensor([[1] * 6 + [0] * 2]))
        typed = model(ids, token_type_ids=torch.ones_like(ids)).logits
    assert torch.allclose(out.logits[:, :6], alone, atol=1e-5)
    assert not torch.allclose(typed, alone)


def test_encoder_is_bidirectional_and_decoder_is_causal():
    for name, later_changes_earlier in (("bert-tiny", True), ("llama-tiny", False)):
        model = model_for(name)
        ids = torch.randint(5, 100, (1, 8), generator=torch.Generator().manual_seed(0))
        changed = ids.clone()
        changed[0, -1] = ids[0, -1] + 1
        with torch.no_grad():
            a, b = model(ids).logits, model(changed).logits
        assert (not torch.allclose(a[0, 0], b[0, 0])) == later_changes_earlier


def test_hidden_states_and_attention_probabilities_on_request():
    model = model_for("llama-tiny")
    ids = torch.randint(0, 256, (2, 5))
    with torch.no_grad():
        plain = model(ids)
        out = model(ids, output_hidden_states=True, output_attentions=True)
    assert plain.hidden_states is None and plain.attentions is None
    assert len(out.hidden_states) == model.config.n_layers + 1
    assert torch.equal(model.norm(out.hidden_states[-1]), out.last_hidden_state)
    assert len(out.attentions) == model.config.n_layers
    probs = out.attentions[0]
    assert probs.shape == (2, 4, 5, 5)
    assert torch.allclose(probs.sum(-1), torch.ones(2, 4, 5), atol=1e-6)
    assert (probs.triu(diagonal=1) == 0).all()  # causal
    assert torch.allclose(out.logits, plain.logits, atol=1e-5)  # the reference path gives the same logits


def test_tied_head_is_the_embedding_matrix():
    model = model_for("llama-tiny", tie_embeddings=True)
    assert model.head.weight is model.embed.weight
    assert "head.weight" not in dict(model.named_parameters())
    untied = model_for("llama-tiny")
    assert untied.head.weight is not untied.embed.weight


def test_encoder_decoder_uses_the_source_through_cross_attention():
    model = model_for("t5-tiny", init_std=0.5)  # large weights, so that the source visibly matters
    source = torch.randint(0, 32, (2, 7), generator=torch.Generator().manual_seed(0))
    target = torch.randint(0, 32, (2, 5), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(target, encoder_input_ids=source, output_attentions=True)
        other = model(target, encoder_input_ids=source.flip(1)).logits
        cached = model(target, encoder_output=out.encoder_last_hidden_state).logits
    assert out.logits.shape == (2, 5, 32)
    assert len(out.cross_attentions) == 2 and out.cross_attentions[0].shape == (2, 4, 5, 7)
    assert not torch.allclose(out.logits, other)
    assert torch.allclose(cached, out.logits, atol=1e-4)
    with pytest.raises(GlossaError, match="encoder_input_ids"):
        model(target)


def test_moe_aux_losses_are_summed_over_layers():
    model = model_for("moe-tiny", n_layers=3)
    model.train()
    out = model(torch.randint(0, 64, (2, 16)))
    per_layer = [block.ffn.aux for block in model.layers]
    assert torch.allclose(out.load_balancing_loss, sum(aux.load_balancing_loss for aux in per_layer))
    assert torch.allclose(out.router_z_loss, sum(aux.router_z_loss for aux in per_layer))
    expected = 0.01 * out.load_balancing_loss + 0.001 * out.router_z_loss
    assert torch.allclose(out.aux_loss, expected)
    assert int(out.expert_load.sum()) == 3 * 2 * 16 * 2  # layers × tokens × top-2
    out.aux_loss.backward()
    assert model.layers[0].ffn.router.weight.grad is not None


def test_dense_models_report_no_aux_loss_and_bad_inputs_fail_clearly():
    model = model_for("llama-tiny")
    assert model(torch.zeros(1, 2, dtype=torch.long)).aux_loss is None
    with pytest.raises(GlossaError, match="batch, seq"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(GlossaError, match="KV cache"):
        model_for("bert-tiny")(torch.zeros(1, 2, dtype=torch.long), cache=KVCache(2))


def test_learned_positions_refuse_more_than_the_context_window():
    gpt = model_for("gpt2-small", vocab_size=16, d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=8)
    assert gpt(torch.zeros(1, 8, dtype=torch.long)).logits.shape == (1, 8, 16)
    with pytest.raises(GlossaError, match="9 positions exceed the context length 8"):
        gpt(torch.zeros(1, 9, dtype=torch.long))


def test_embedding_is_a_table_lookup_plus_positions():
    model = model_for(
        "gpt2-small", vocab_size=16, d_model=8, n_layers=1, n_heads=2, d_ff=16, context_length=8
    )
    ids = torch.tensor([[3, 3, 7]])
    x, rope = model.embed_tokens(ids, torch.arange(3))
    expected = model.embed.weight[[3, 3, 7]] + model.positions.weight[:3]
    assert rope is None and torch.equal(x[0], expected)
    assert not torch.equal(x[0, 0], x[0, 1])  # the same token at two positions: two different vectors


@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_residual_connections_carry_the_input_past_silent_sublayers(norm_position):
    from glossa.models.transformer import Block

    config = preset("llama-tiny", norm_position=norm_position)
    block = Block(config, cross=False).eval()
    with torch.no_grad():  # sublayers that output zero: the block must pass x through (pre) or normalise it
        block.attn.o.weight.zero_()
        block.ffn.down.weight.zero_()
        x = torch.randn(2, 5, 64)
        y, _, _ = block(x, mask=None, rope=None)
    expected = x if norm_position == "pre" else block.ffn_norm(block.attn_norm(x))
    assert torch.allclose(y, expected, atol=1e-6)

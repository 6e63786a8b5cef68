"""Weights move both ways: trained glossa models saved in the HF layout open in transformers with the same
outputs and come back into glossa bit for bit; sharded folders; glossa's own layout for every architecture."""

import json
import os

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from glossa.errors import GlossaError
from glossa.models.hf_io import load_hf, save_hf
from glossa.models.loading import load_model, save_model
from glossa.models.presets import preset
from glossa.models.transformer import Transformer
from glossa.nn.positions import RopeScaling

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def trained(name: str, steps: int = 5, **overrides) -> Transformer:
    """A model trained a few steps on random ids, so its weights are no longer at their initial values."""
    torch.manual_seed(0)
    model = Transformer(preset(name, **overrides))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    vocab = model.config.vocab_size
    for _ in range(steps):
        ids = torch.randint(0, vocab, (4, 16))
        out = model(ids)
        if out.logits is None:  # no head: pull the token states towards zero, just to move every weight
            loss = out.last_hidden_state.pow(2).mean()
        else:
            loss = F.cross_entropy(out.logits[:, :-1].reshape(-1, vocab), ids[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def assert_identical(a: Transformer, b: Transformer) -> None:
    assert a.config == b.config
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name


LLAMAS = {
    "gqa-untied": {},
    "tied": {"tie_embeddings": True},
    "mqa-llama3-rope": {
        "n_kv_heads": 1,
        "rope_scaling": RopeScaling("llama3", 8.0, 32, low_freq_factor=1.0, high_freq_factor=4.0),
    },
    "linear-rope": {"rope_scaling": RopeScaling("linear", 2.0)},
}


@pytest.mark.parametrize("variant", list(LLAMAS))
def test_llama_round_trip_through_transformers(tmp_path, variant):
    from transformers import LlamaForCausalLM

    model = trained("llama-tiny", **LLAMAS[variant])
    save_hf(model, tmp_path)
    reference = LlamaForCausalLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    ids = torch.randint(0, 256, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(ids, output_hidden_states=True, output_attentions=True)
        theirs = reference(ids, output_hidden_states=True, output_attentions=True)
    assert (ours.logits - theirs.logits).abs().max().item() <= 1e-5
    for layer in range(model.config.n_layers):
        assert (ours.attentions[layer] - theirs.attentions[layer]).abs().max().item() <= 1e-5
    assert_identical(load_model(tmp_path), model)


def test_bert_round_trip_through_transformers(tmp_path):
    from transformers import BertForMaskedLM, BertModel

    model = trained("bert-tiny")
    save_hf(model, tmp_path / "mlm")
    ids = torch.randint(0, 128, (2, 12), generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([[1] * 12, [1] * 9 + [0] * 3])
    types = torch.tensor([[0] * 6 + [1] * 6, [0] * 12])
    with torch.no_grad():
        ours = model(ids, attention_mask=mask, token_type_ids=types)
        masked_lm = BertForMaskedLM.from_pretrained(tmp_path / "mlm").eval()
        theirs = masked_lm(ids, attention_mask=mask, token_type_ids=types)
        base = BertModel.from_pretrained(tmp_path / "mlm").eval()
        states = base(ids, attention_mask=mask, token_type_ids=types).last_hidden_state
    real = mask.bool()
    assert (ours.logits[real] - theirs.logits[real]).abs().max().item() <= 1e-5
    assert (ours.last_hidden_state[real] - states[real]).abs().max().item() <= 1e-5
    assert_identical(load_model(tmp_path / "mlm"), model)

    encoder = trained("bert-tiny", head="none")  # a BertModel checkpoint, like MiniLM's
    save_hf(encoder, tmp_path / "base")
    assert json.loads((tmp_path / "base" / "config.json").read_text())["architectures"] == ["BertModel"]
    with torch.no_grad():
        states = (
            BertModel.from_pretrained(tmp_path / "base").eval()(ids, attention_mask=mask).last_hidden_state
        )
        assert (encoder(ids, attention_mask=mask).last_hidden_state[real] - states[real]).abs().max() <= 1e-5
    assert_identical(load_model(tmp_path / "base"), encoder)


def test_sharded_checkpoints_load(tmp_path):
    model = trained("llama-tiny")
    save_hf(model, tmp_path / "one")
    tensors = load_file(tmp_path / "one" / "model.safetensors")
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    weight_map = {}
    for file, shard_names in shards.items():
        save_file({name: tensors[name] for name in shard_names}, sharded / file)
        weight_map |= dict.fromkeys(shard_names, file)
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (sharded / "config.json").write_text((tmp_path / "one" / "config.json").read_text())
    assert_identical(load_hf(sharded), model)

    (sharded / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(GlossaError, match=r"model-00002-of-00002\.safetensors is missing"):
        load_model(sharded)


@pytest.mark.parametrize("name", ["t5-tiny", "moe-tiny", "mistral-tiny", "gpt2-small"])
def test_glossa_layout_round_trip_for_every_architecture(tmp_path, name):
    overrides = {
        "vocab_size": 64,
        "d_model": 32,
        "n_layers": 2,
        "n_heads": 4,
        "d_ff": 64,
        "context_length": 32,
    }
    model = Transformer(preset(name, **overrides) if name == "gpt2-small" else preset(name)).eval()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert_identical(loaded, model)
    assert loaded.config.tie_embeddings == (loaded.head.weight is loaded.embed.weight)


def test_models_without_an_hf_equivalent_refuse_the_hf_layout(tmp_path):
    with pytest.raises(GlossaError, match="no Hugging Face equivalent"):
        save_model(Transformer(preset("moe-tiny")), tmp_path, layout="hf")
    assert not (tmp_path / "config.json").exists()

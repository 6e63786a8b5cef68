"""ModelConfig validation, JSON round trip, and the presets' parameter counts against transformers' models."""

import os

import pytest
import torch

from glossa.errors import GlossaError
from glossa.models.config import ModelConfig
from glossa.models.presets import PRESETS, preset
from glossa.models.transformer import Transformer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

BASE = dict(vocab_size=100, d_model=64, n_layers=2, n_heads=4, d_ff=128)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_heads": 5}, "n_heads=5 does not divide d_model=64"),
        ({"n_kv_heads": 3}, "n_kv_heads=3 must divide n_heads=4"),
        ({"d_model": 0}, "d_model must be a positive integer"),
        ({"ffn_kind": "tanh"}, "unknown ffn_kind 'tanh'"),
        ({"norm_kind": "batchnorm"}, "unknown norm_kind"),
        ({"position_kind": "alibi"}, "unknown position_kind"),
        ({"architecture": "encoder-decoder"}, "n_decoder_layers"),
        ({"n_decoder_layers": 2}, "only for encoder-decoder"),
        ({"head_dim": 7}, "even head dimension"),
        ({"n_experts": 4, "top_k": 5}, "top_k=5"),
        ({"head": "mlm"}, "masked-LM head"),
        ({"dropout": 1.0}, "dropout"),
        ({"sliding_window": 0}, "sliding_window"),
    ],
)
def test_bad_configs_name_the_problem(changes, message):
    with pytest.raises(GlossaError, match=message):
        ModelConfig(**{**BASE, **changes})


def test_head_dim_may_differ_from_width_over_heads():
    config = ModelConfig(**{**BASE, "n_heads": 5, "head_dim": 16})
    assert config.attention_head_dim == 16
    assert Transformer(config)(torch.zeros(1, 3, dtype=torch.long)).logits.shape == (1, 3, 100)


@pytest.mark.parametrize("name", list(PRESETS))
def test_json_round_trip(name):
    config = preset(name)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(GlossaError, match="unknown model config field"):
        ModelConfig.from_dict({**BASE, "n_layer": 3})


def test_preset_overrides_and_unknown_names():
    assert preset("llama-tiny", n_layers=5).n_layers == 5
    with pytest.raises(GlossaError, match="no model preset"):
        preset("gpt5")


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_gpt2_and_bert_presets_have_the_reference_parameter_counts():
    from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

    with torch.device("meta"):
        gpt2 = count(Transformer(preset("gpt2-small")))
        assert gpt2 == count(GPT2LMHeadModel(GPT2Config())) == 124_439_808
        assert count(Transformer(preset("bert-base"))) == count(BertForMaskedLM(BertConfig()))

"""Bad model sources fail with one clear GlossaError that names the problem, never a deep traceback."""

import json

import pytest
import torch

from glossa.errors import GlossaError
from glossa.models.hf_io import save_hf
from glossa.models.loading import load_config, load_model
from glossa.models.presets import preset
from glossa.models.transformer import Transformer

LLAMA_CONFIG = {
    "model_type": "llama",
    "vocab_size": 64,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}


def folder(tmp_path, config: dict, weights: bool = True):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    if weights:
        save_hf(Transformer(preset("llama-tiny")), tmp_path / "donor")
        (tmp_path / "donor" / "model.safetensors").rename(tmp_path / "model.safetensors")
    return tmp_path


def test_unsupported_hf_model_type(tmp_path):
    path = folder(tmp_path, {**LLAMA_CONFIG, "model_type": "gpt_neox"}, weights=False)
    with pytest.raises(GlossaError, match=r"unsupported model_type 'gpt_neox' in config\.json"):
        load_model(path)
    with pytest.raises(GlossaError, match="unsupported model_type"):
        load_config(path)


def test_missing_safetensors_file(tmp_path):
    path = folder(tmp_path, LLAMA_CONFIG, weights=False)
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(GlossaError, match=r"neither model\.safetensors nor .*pickled pytorch_model\.bin"):
        load_model(path)


def test_heads_that_do_not_divide_the_width(tmp_path):
    path = folder(
        tmp_path, {**LLAMA_CONFIG, "num_attention_heads": 5, "num_key_value_heads": 5}, weights=False
    )
    with pytest.raises(GlossaError, match="n_heads=5 does not divide d_model=32"):
        load_model(path)


def test_weights_that_do_not_fit_the_config(tmp_path):
    path = folder(
        tmp_path / "shape", {**LLAMA_CONFIG, "num_hidden_layers": 2}
    )  # llama-tiny's: 64 wide, not 32
    with pytest.raises(
        GlossaError, match=r"'embed.weight' has shape \(256, 64\), the config needs \(64, 32\)"
    ):
        load_model(path)
    more = {**LLAMA_CONFIG, "hidden_size": 64, "vocab_size": 256, "intermediate_size": 172}  # 1 layer, not 2
    with pytest.raises(GlossaError, match=r"does not account for, e\.g\. 'model\.layers\.1"):
        load_model(folder(tmp_path / "layers", more))


def test_incomplete_config(tmp_path):
    config = dict(LLAMA_CONFIG)
    del config["hidden_size"]
    with pytest.raises(GlossaError, match="lacks the field 'hidden_size'"):
        load_model(folder(tmp_path, config, weights=False))


def test_unknown_sources(tmp_path):
    with pytest.raises(GlossaError, match="no model named or found at 'gpt-5'"):
        load_model("gpt-5")
    with pytest.raises(GlossaError, match=r"neither glossa\.json nor config\.json"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(GlossaError, match="cannot read"):
        load_model(tmp_path)


def test_damaged_safetensors(tmp_path):
    path = folder(tmp_path, LLAMA_CONFIG, weights=False)
    (path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    with pytest.raises(GlossaError, match="cannot read"):
        load_model(path)


def test_bad_glossa_checkpoint(tmp_path):
    (tmp_path / "glossa.json").write_text(json.dumps({"vocab_size": 10, "d_model": 8, "n_layers": 1}))
    with pytest.raises(GlossaError, match="incomplete model config"):
        load_model(tmp_path)
    (tmp_path / "glossa.json").write_text(json.dumps({**preset("llama-tiny").to_dict(), "n_layers": 0}))
    with pytest.raises(GlossaError, match="n_layers must be a positive integer"):
        load_model(tmp_path)


def test_model_without_weights_is_not_built_from_random_tensors():
    with pytest.raises(GlossaError, match="lacks"):
        Transformer.from_state_dict(preset("llama-tiny"), {"embed.weight": torch.zeros(256, 64)})

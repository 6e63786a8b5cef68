"""GGUF → glossa: metadata to config, llama.cpp's Q/K permutation undone, quantized blocks kept, bad files.

Small GGUF files are written here with gguf-py's writer (and its Q4_1 quantizer), the way llama.cpp's
converter writes them: Q and K rows permuted per head."""

import os

import gguf
import numpy as np
import pytest
import torch

from glossa.errors import GlossaError
from glossa.models.gguf_weights import permute_rows, unpermute_rows
from glossa.models.loading import load_config, load_model
from glossa.models.presets import preset
from glossa.models.transformer import Transformer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LAYER_NAMES = {
    "attn_norm": "attn_norm",
    "attn_q": "attn.q",
    "attn_k": "attn.k",
    "attn_v": "attn.v",
    "attn_output": "attn.o",
    "ffn_norm": "ffn_norm",
    "ffn_gate": "ffn.gate",
    "ffn_up": "ffn.up",
    "ffn_down": "ffn.down",
}


def write_gguf(path, model: Transformer, *, architecture: str = "llama", quantize: bool = False, drop=()):
    """`model` as llama.cpp would convert it (F32, or Q4_1 for the matrices)."""
    config = model.config
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_block_count(config.n_layers)
    writer.add_context_length(config.context_length)
    writer.add_embedding_length(config.d_model)
    writer.add_feed_forward_length(config.d_ff)
    writer.add_head_count(config.n_heads)
    writer.add_head_count_kv(config.kv_heads)
    writer.add_rope_freq_base(config.rope_theta)
    writer.add_layer_norm_rms_eps(config.norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"t{i}" for i in range(config.vocab_size)])
    writer.add_token_merges([])
    state = {name: tensor.detach().numpy() for name, tensor in model.state_dict().items()}
    tensors = {"token_embd.weight": state["embed.weight"], "output_norm.weight": state["norm.weight"]}
    if not config.tie_embeddings:
        tensors["output.weight"] = state["head.weight"]
    for layer in range(config.n_layers):
        for theirs, ours in LAYER_NAMES.items():
            tensor = state[f"layers.{layer}.{ours}.weight"]
            if theirs == "attn_q":
                tensor = permute_rows(tensor, config.n_heads)
            elif theirs == "attn_k":
                tensor = permute_rows(tensor, config.kv_heads)
            tensors[f"blk.{layer}.{theirs}.weight"] = tensor
    for name, tensor in tensors.items():
        if name in drop:
            continue
        if quantize and tensor.ndim == 2:
            kind = gguf.GGMLQuantizationType.Q4_1
            writer.add_tensor(name, gguf.quants.quantize(tensor, kind), raw_dtype=kind)
        else:
            writer.add_tensor(name, np.ascontiguousarray(tensor, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_llama(**overrides) -> Transformer:
    torch.manual_seed(0)
    return Transformer(preset("llama-tiny", **overrides)).eval()


def test_unpermute_inverts_llama_cpp_and_matches_transformers():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    weights = np.arange(12 * 64 * 3, dtype=np.float32).reshape(12 * 64, 3)
    for heads in (12, 4, 1):
        permuted = permute_rows(weights, heads)
        assert not np.array_equal(permuted, weights)
        assert np.array_equal(unpermute_rows(permuted, heads), weights)
        expected = LlamaTensorProcessor()._reverse_permute_weights(permuted, heads, heads)
        assert np.array_equal(unpermute_rows(permuted, heads), expected)


def test_f32_gguf_loads_back_bit_identical(tmp_path):
    for overrides in ({}, {"tie_embeddings": True, "n_kv_heads": 1}):
        model = tiny_llama(**overrides)
        loaded = load_model(write_gguf(tmp_path / "tiny.gguf", model))
        assert loaded.config == model.config
        for name, tensor in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[name], tensor), name
        assert loaded.quantized_weights == {}  # nothing was quantized


def test_q4_1_gguf_matches_transformers_and_keeps_blocks(tmp_path):
    from transformers import AutoModelForCausalLM

    path = write_gguf(tmp_path / "tiny-q4_1.gguf", tiny_llama(d_ff=192), quantize=True)  # rows of 32s
    ours = load_model(path)
    reference = AutoModelForCausalLM.from_pretrained(
        tmp_path, gguf_file=path.name, dtype=torch.float32
    ).eval()
    ids = torch.randint(0, 256, (2, 30), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (ours(ids).logits - reference(ids).logits).abs().max().item() <= 1e-5
    q = ours.quantized_weights["layers.1.attn.q.weight"]
    assert (q.type_name, q.shape, q.gguf_name) == ("Q4_1", (64, 64), "blk.1.attn_q.weight")
    for name, quantized in ours.quantized_weights.items():  # the blocks are in our (HF) row order
        assert np.array_equal(quantized.dequantize(), ours.get_parameter(name).detach().numpy()), name


def test_smollm2_config_and_quantized_weights(smollm2):
    assert load_config("smollm2") == preset("smollm2-135m")
    assert smollm2.config == preset("smollm2-135m")
    kept = smollm2.quantized_weights
    assert len(kept) == 30 * 7 + 1
    assert {q.type_name for q in kept.values()} == {"Q4_1", "Q8_0"}
    assert kept["embed.weight"].type_name == "Q8_0"
    assert kept["layers.0.ffn.down.weight"].raw.flags.owndata is False  # a view over the mapped file
    for name in (
        "layers.0.attn.q.weight",
        "layers.29.attn.k.weight",
        "layers.7.ffn.gate.weight",
        "embed.weight",
    ):
        assert np.array_equal(kept[name].dequantize(), smollm2.get_parameter(name).detach().numpy()), name
    assert smollm2.head.weight is smollm2.embed.weight


def test_unknown_architecture_is_named(tmp_path):
    path = write_gguf(tmp_path / "other.gguf", tiny_llama(), architecture="gpt2")
    with pytest.raises(GlossaError, match="unsupported architecture 'gpt2' in the GGUF metadata"):
        load_model(path)
    with pytest.raises(GlossaError, match="unsupported architecture 'gpt2'"):
        load_config(path)


def test_missing_tensor_and_non_gguf_files(tmp_path):
    path = write_gguf(tmp_path / "partial.gguf", tiny_llama(), drop=("blk.1.ffn_up.weight",))
    with pytest.raises(GlossaError, match=r"blk\.1\.ffn_up\.weight"):
        load_model(path)
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(GlossaError, match="not a GGUF file"):
        load_model(text)

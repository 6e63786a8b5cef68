"""Whole models: one config-driven transformer family and its weights (seed §8, §9, §18, §25).

config.py        `ModelConfig`: every architecture as data, validated
presets.py       named configs: gpt2-small, llama-tiny, smollm2-135m, bert-base, minilm-l6, t5-tiny, …
transformer.py   `Transformer`: decoder, encoder (MLM head) or encoder-decoder, dense or MoE
gguf_weights.py  GGUF (llama.cpp) tensors and metadata → our parameters and config
hf_io.py         the Hugging Face layout (config.json + safetensors), read and written
loading.py       `load_model(source)` / `save_model(model, folder)`
embeddings.py    sentence embeddings (MiniLM): pooling, normalisation, cosine and Euclidean distance
describe.py      parameters, FLOPs, KV-cache bytes and scale category of a config
gan.py, vae.py, diffusion.py   the seed's other generative models (§7), learning 2-D toy distributions
toy_data.py      those distributions, MMD² and mode coverage (how a generator collapses)

>>> from glossa.models import load_model
>>> model = load_model("smollm2")
"""

from glossa.models.config import ModelConfig
from glossa.models.loading import load_config, load_model, save_model
from glossa.models.presets import preset
from glossa.models.transformer import Transformer, TransformerOutput

__all__ = [
    "ModelConfig",
    "Transformer",
    "TransformerOutput",
    "load_config",
    "load_model",
    "preset",
    "save_model",
]

"""Shared fixtures for the inference tests: SmolLM2 is loaded once per session; tiny random Llama-style models
(built in milliseconds) serve the cache, scheduler and speculative tests. Tests that run SmolLM2 keep to a few
tokens and to 2 threads."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small per-step work: one thread avoids OpenMP fork/join costs, which dominate on 2 shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smollm2_model():
    """glossa's SmolLM2-135M-Instruct (float32), from the packaged GGUF."""
    from glossa.models.loading import load_model

    return load_model("smollm2")


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    from glossa.tokenizers.loading import load_tokenizer

    return load_tokenizer("smollm2")


def build_tiny(seed: int = 0, **overrides):
    """A random llama-tiny (2 layers, width 64, 4 query / 2 KV heads, vocab 256) in eval mode."""
    from glossa.models.presets import preset
    from glossa.models.transformer import Transformer

    torch.manual_seed(seed)
    return Transformer(preset("llama-tiny", **overrides)).eval()


@pytest.fixture(scope="session")
def tiny_model():
    return build_tiny()


def greedy_reference(model, prompt_ids, max_tokens):
    """Greedy decoding with no cache at all: the whole sequence through the model at every step."""
    ids, out = list(prompt_ids), []
    with torch.inference_mode():
        for _ in range(max_tokens):
            token = int(model(torch.tensor([ids])).logits[0, -1].argmax())
            ids.append(token)
            out.append(token)
    return out


def random_prompts(count, low, high, vocab=256, seed=1):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(low, high + 1, (count,), generator=generator).tolist()
    return [torch.randint(0, vocab, (n,), generator=generator).tolist() for n in lengths]

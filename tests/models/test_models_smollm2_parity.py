"""SmolLM2-135M-Instruct from its GGUF: glossa against transformers loading the same file.

The oracle side (transformers' model and tokenizer from the GGUF) is built once for the module, which takes
most of this file's time; glossa's model comes from the session fixture. Prompts are tokenized by the
reference tokenizer and the same ids go to both models."""

import os
from pathlib import Path

import pytest
import torch

from glossa.artifacts import smollm2_gguf
from glossa.nn.kv_cache import KVCache

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHAKESPEARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare.txt"
EOS = 2  # <|im_end|>


@pytest.fixture(scope="module")
def reference():
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    path = smollm2_gguf()
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model, tokenizer


def chat_prompt(tokenizer, question: str) -> str:
    messages = [{"role": "user", "content": question}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def prompts(tokenizer) -> list[list[int]]:
    texts = [
        "The meaning of life is",
        chat_prompt(tokenizer, "What is the capital of France?"),
        "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
        "Les transformeurs sont des réseaux de neurones 🤖; 变压器 — 42 × 3.14 = ",
    ]
    ids = [tokenizer(text, add_special_tokens=False).input_ids for text in texts]
    long_text = SHAKESPEARE.read_text(encoding="utf-8")[:4000]
    ids.append(tokenizer(long_text, add_special_tokens=False).input_ids[:512])
    assert len(ids[-1]) == 512
    return ids


def test_logits_match_transformers(smollm2, reference):
    model, tokenizer = reference
    for ids in prompts(tokenizer):
        batch = torch.tensor([ids])
        with torch.no_grad():
            ours = smollm2(batch).logits
            theirs = model(batch).logits
        difference = (ours - theirs).abs().max().item()
        assert difference <= 1e-3, f"{len(ids)} tokens: max |Δlogit| = {difference:.2e}"


def test_hidden_states_match_transformers(smollm2, reference):
    model, tokenizer = reference
    batch = torch.tensor([tokenizer("The quick brown fox jumps over the lazy dog").input_ids])
    with torch.no_grad():
        ours = smollm2(batch, output_hidden_states=True).hidden_states
        theirs = model(batch, output_hidden_states=True).hidden_states
    assert len(ours) == len(theirs) == 31
    for layer in range(30):  # transformers' last entry is after the final norm, ours before it
        assert (ours[layer] - theirs[layer]).abs().max().item() <= 1e-3, f"layer {layer}"


def greedy(model, ids: list[int], steps: int) -> list[int]:
    """Plain greedy decoding with a KV cache, stopping at <|im_end|> as transformers' generate does."""
    cache = KVCache(model.config.n_layers)
    out: list[int] = []
    with torch.no_grad():
        logits = model(torch.tensor([ids]), cache=cache).logits
        for _ in range(steps):
            token = int(logits[0, -1].argmax())
            out.append(token)
            if token == EOS:
                break
            logits = model(torch.tensor([[token]]), cache=cache).logits
    return out


@pytest.mark.parametrize("kind", ["raw", "chat"])
def test_greedy_continuations_are_identical(smollm2, reference, kind):
    model, tokenizer = reference
    text = (
        "The meaning of life is"
        if kind == "raw"
        else chat_prompt(tokenizer, "What is the capital of France?")
    )
    ids = tokenizer(text, add_special_tokens=False).input_ids
    ours = greedy(smollm2, ids, 64)
    with torch.no_grad():
        generated = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=64,
            do_sample=False,
            eos_token_id=EOS,
            pad_token_id=EOS,
        )
    theirs = generated[0, len(ids) :].tolist()
    assert ours == theirs
    if kind == "raw":
        assert len(ours) == 64
    else:
        assert tokenizer.decode(ours, skip_special_tokens=True).startswith("The capital of France is Paris.")

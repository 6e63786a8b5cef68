"""The fast single-sequence decoder on the real SmolLM2-135M-Instruct GGUF, in both precisions."""

import pytest
import torch

import glossa
from glossa.infer.fast_decode import FastDecoder, greedy_generate
from glossa.infer.quantized import Int4WeightOnlyLinear, load_fast_model
from glossa.models.loading import load_model

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def tokenizer():
    return glossa.load_tokenizer("smollm2")


@pytest.fixture(scope="module")
def prompt(tokenizer) -> list[int]:
    text = tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True)
    return tokenizer.encode(text, allowed_special="all")


@pytest.fixture(scope="module")
def fast_model():
    return load_fast_model("smollm2")


@pytest.fixture(scope="module")
def exact_model():
    return load_model("smollm2")


def test_fast_greedy_answers_the_france_question(fast_model, tokenizer, prompt) -> None:
    end = tokenizer.encode("<|im_end|>", allowed_special="all")
    new = greedy_generate(fast_model, prompt, 12, stop_ids=end)
    assert tokenizer.decode(new).startswith("The capital of France is Paris.")


def test_fast_model_runs_through_the_ordinary_forward_too(fast_model, tokenizer, prompt) -> None:
    """The engine's runner calls the swapped modules through `Transformer.forward`: same first token."""
    assert isinstance(fast_model.layers[0].attn.q, Int4WeightOnlyLinear)
    with torch.inference_mode():
        logits = fast_model(torch.tensor([prompt])).logits[0, -1]
    assert tokenizer.decode([int(logits.argmax())]) == "The"


def test_exact_greedy_tokens_equal_the_float_models_own_forward(exact_model, prompt) -> None:
    sequence = list(prompt)
    with torch.inference_mode():
        for _ in range(4):
            sequence.append(int(exact_model(torch.tensor([sequence])).logits[0, -1].argmax()))
    assert greedy_generate(exact_model, prompt, 4) == sequence[len(prompt) :]


def test_exact_decoder_logits_match_the_forward(exact_model, prompt) -> None:
    decoder = FastDecoder(exact_model, max_length=64)
    logits = decoder.forward(torch.tensor(prompt))
    with torch.inference_mode():
        reference = exact_model(torch.tensor([prompt])).logits[0, -1]
    torch.testing.assert_close(logits, reference, rtol=1e-4, atol=1e-3)


def test_chunked_prefill_then_decode_equals_one_shot(fast_model, prompt) -> None:
    decoder = FastDecoder(fast_model, max_length=64)
    whole = decoder.forward(torch.tensor(prompt))
    decoder.reset()
    decoder.forward(torch.tensor(prompt[:7]))
    decoder.forward(torch.tensor(prompt[7:-1]))
    last = decoder.forward(torch.tensor(prompt[-1:]))
    assert int(last.argmax()) == int(whole.argmax())
    torch.testing.assert_close(last, whole, rtol=0.05, atol=0.3)  # bf16: summation order differs


def test_decoder_refuses_to_run_past_its_cache(fast_model) -> None:
    decoder = FastDecoder(fast_model, max_length=4)
    with pytest.raises(glossa.GlossaError, match="exceed"):
        decoder.forward(torch.arange(5))


def test_fast_model_is_small_in_memory(fast_model) -> None:
    buffers = sum(b.numel() * b.element_size() for b in fast_model.buffers())
    parameters = sum(p.numel() * p.element_size() for p in fast_model.parameters())
    assert buffers + parameters < 150 * 2**20  # vs 540 MB of float32 weights

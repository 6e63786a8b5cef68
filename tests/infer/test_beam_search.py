"""Beam search: width 1 is greedy, a wide beam is exact (brute force over all short sequences), and the
results equal transformers' `generate(num_beams=...)` on a tiny random Llama."""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch

from glossa.errors import GlossaError
from glossa.infer.beam import beam_search, beam_search_request, sequence_logprob
from glossa.infer.params import SamplingParams

VOCAB, EOS = 4, 3


def toy_step(prefixes: list[list[int]]) -> torch.Tensor:
    """Next-token logits that depend on the whole prefix, deterministically (a hand-made 'model')."""
    rows = []
    for prefix in prefixes:
        key = sum((token + 1) * 7**i for i, token in enumerate(prefix))
        rows.append(torch.randn(VOCAB, generator=torch.Generator().manual_seed(key)) * 2)
    return torch.stack(rows)


def greedy(step_fn, prompt: list[int], max_tokens: int, eos: int) -> list[int]:
    tokens: list[int] = []
    while len(tokens) < max_tokens:
        tokens.append(int(step_fn([prompt + tokens])[0].argmax()))
        if tokens[-1] == eos:
            break
    return tokens


def brute_force(
    step_fn, prompt: list[int], max_tokens: int, length_penalty: float
) -> tuple[list[int], float]:
    """The best-scoring sequence among all that end in EOS or reach max_tokens."""
    best: tuple[list[int], float] = ([], -float("inf"))
    for length in range(1, max_tokens + 1):
        for body in itertools.product([t for t in range(VOCAB) if t != EOS], repeat=length - 1):
            endings = range(VOCAB) if length == max_tokens else [EOS]
            for last in endings:
                tokens = [*body, last]
                score = sequence_logprob(step_fn, prompt, tokens) / length**length_penalty
                if score > best[1]:
                    best = (tokens, score)
    return best


@pytest.mark.parametrize("prompt", [[0], [1, 2], [2, 2, 0]])
def test_beam_width_one_is_greedy(prompt):
    hypotheses = beam_search(toy_step, prompt, beam_width=1, max_tokens=6, eos_token_id=EOS)
    assert hypotheses[0].tokens == greedy(toy_step, prompt, 6, EOS)


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0, -1.0])
@pytest.mark.parametrize("prompt", [[0], [1, 2]])
def test_a_beam_that_holds_every_prefix_finds_the_brute_force_best(prompt, length_penalty):
    tokens, score = brute_force(toy_step, prompt, 4, length_penalty)
    best = beam_search(
        toy_step,
        prompt,
        beam_width=128,
        max_tokens=4,
        eos_token_id=EOS,
        length_penalty=length_penalty,
        early_stopping="never",
    )[0]
    assert best.tokens == tokens
    assert best.score == pytest.approx(score)
    assert best.sum_logprobs == pytest.approx(sequence_logprob(toy_step, prompt, tokens))


def test_beam_search_beats_greedy_on_a_garden_path():
    """Greedy takes token 0 (p 0.6) and then faces a flat choice (0.5); a beam of 2 keeps token 1 (p 0.4),
    whose continuation is almost certain (0.98): 0.4 × 0.98 > 0.6 × 0.5. Token 2 is EOS and never likely."""
    tiny = 1e-9
    table = {(): [0.6, 0.4 - tiny, tiny], (0,): [0.5, 0.5 - tiny, tiny], (1,): [0.98, 0.02 - tiny, tiny]}

    def step(prefixes):
        return torch.tensor([table[tuple(prefix[1:])] for prefix in prefixes], dtype=torch.float64).log()

    assert greedy(step, [9], 2, eos=2) == [0, 0]
    best = beam_search(step, [9], beam_width=2, max_tokens=2, eos_token_id=2, length_penalty=0.0)[0]
    assert best.tokens == [1, 0]
    assert best.sum_logprobs == pytest.approx(torch.tensor(0.4 * 0.98).log().item())


def test_sequence_logprob_is_the_chain_rule_and_sums_to_one_over_all_sequences():
    prompt = [1, 2]
    tokens = [0, 3, 1]
    by_hand = sum(
        float(toy_step([prompt + tokens[:t]])[0].log_softmax(-1)[tokens[t]]) for t in range(len(tokens))
    )
    assert sequence_logprob(toy_step, prompt, tokens) == pytest.approx(by_hand)
    total = sum(
        torch.tensor(sequence_logprob(toy_step, prompt, list(seq))).exp().item()
        for seq in itertools.product(range(VOCAB), repeat=3)
    )
    assert total == pytest.approx(1.0)  # the joint distribution over all length-3 continuations


def test_beam_search_request_takes_its_settings_from_sampling_params():
    params = SamplingParams(use_beam_search=True, beam_width=3, n=2, max_tokens=4, length_penalty=0.5)
    hypotheses = beam_search_request(toy_step, [0], params, EOS)
    direct = beam_search(toy_step, [0], beam_width=3, max_tokens=4, eos_token_id=EOS, length_penalty=0.5)
    assert [h.tokens for h in hypotheses] == [h.tokens for h in direct[:2]]


def test_bad_arguments_are_glossa_errors():
    with pytest.raises(GlossaError, match="beam_width"):
        beam_search(toy_step, [0], beam_width=0, max_tokens=3)
    with pytest.raises(GlossaError, match="early_stopping"):
        beam_search(toy_step, [0], beam_width=2, max_tokens=3, early_stopping="soon")


@pytest.fixture(scope="module")
def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=24,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        initializer_range=0.5,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


@pytest.mark.parametrize(
    ("beam_width", "length_penalty", "early_stopping"),
    [(3, 1.0, False), (4, 0.0, True), (5, -0.5, "never")],
)
def test_matches_transformers_generate(tiny_llama, beam_width, length_penalty, early_stopping):
    prompt = [0, 5, 9, 13]
    max_new = 6

    @torch.no_grad()
    def step(prefixes):
        return tiny_llama(input_ids=torch.tensor(prefixes)).logits[:, -1].double()

    with torch.no_grad():
        out = tiny_llama.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            num_beams=beam_width,
            num_return_sequences=beam_width,
            max_new_tokens=max_new,
            length_penalty=length_penalty,
            early_stopping=early_stopping,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
        )
    ours = beam_search(
        step,
        prompt,
        beam_width=beam_width,
        max_tokens=max_new,
        eos_token_id=0,
        length_penalty=length_penalty,
        early_stopping=early_stopping,
    )
    theirs = []
    for sequence in out.sequences.tolist():
        generated = sequence[len(prompt) :]
        if 0 in generated:  # EOS (also the padding after it)
            generated = generated[: generated.index(0) + 1]
        theirs.append(generated)
    assert [h.tokens for h in ours] == theirs
    assert any(tokens[-1] == 0 for tokens in theirs)  # some beams ended on EOS, not only at max_new_tokens
    assert [h.score for h in ours] == pytest.approx(out.sequences_scores.tolist(), abs=1e-4)

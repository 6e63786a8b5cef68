"""`Sampler`: greedy is argmax, seeds reproduce alone or batched, draws follow the filtered softmax."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import chisquare

from glossa.errors import GlossaError
from glossa.infer.logits import process_logits
from glossa.infer.params import SamplingParams
from glossa.infer.sampler import Sampler, generator_for


def random_logits(rows: int, vocab: int, seed: int) -> torch.Tensor:
    return torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed)) * 2


def test_greedy_is_argmax():
    logits = random_logits(8, 1000, 0)
    result = Sampler().sample(logits, [SamplingParams(temperature=0)] * 8)
    assert torch.equal(result.token_ids, logits.argmax(-1))
    assert torch.allclose(result.logprobs, logits.log_softmax(-1).max(-1).values)


def test_greedy_rows_stay_argmax_when_batched_with_sampled_rows():
    logits = random_logits(6, 300, 1)
    params = [SamplingParams(temperature=0), SamplingParams(top_p=0.5, seed=3)] * 3
    result = Sampler().sample(logits, params, generators=[generator_for(p) for p in params])
    assert torch.equal(result.token_ids[::2], logits[::2].argmax(-1))


def decode_steps(params: SamplingParams, logits_per_step: list[torch.Tensor], others: int) -> list[int]:
    """Sample `params`' row for several steps, placed after `others` unrelated rows."""
    sampler = Sampler()
    neighbours = [SamplingParams(temperature=1.3, seed=row) for row in range(others)]
    neighbours += [SamplingParams(top_k=3)] * others  # rows on the global RNG
    batch = [*neighbours, params]
    generators = [generator_for(p) for p in batch]
    chosen = []
    for step_logits in logits_per_step:
        noise = torch.randn(len(batch) - 1, step_logits.shape[-1])
        logits = torch.cat([noise, step_logits.unsqueeze(0)])
        chosen.append(int(sampler.sample(logits, batch, generators=generators).token_ids[-1]))
    return chosen


def test_a_fixed_seed_reproduces_alone_and_batched():
    steps = list(random_logits(20, 50, 2) * 0.3)  # flat distributions: many possible tokens
    params = SamplingParams(temperature=1.0, top_p=0.95, seed=1234)
    alone = decode_steps(params, steps, others=0)
    assert alone == decode_steps(params, steps, others=0)
    assert alone == decode_steps(params, steps, others=3)
    assert len(set(alone)) > 3
    assert alone != decode_steps(SamplingParams(temperature=1.0, top_p=0.95, seed=1235), steps, others=0)


def chi_square_p_value(draws: torch.Tensor, probs: torch.Tensor) -> float:
    counts = torch.bincount(draws, minlength=probs.numel()).double()
    allowed = probs > 0
    assert counts[~allowed].sum() == 0, "a filtered-out token was drawn"
    expected = probs[allowed].double() * len(draws)
    return float(
        chisquare(
            counts[allowed].numpy(), expected.numpy() * counts.sum().item() / expected.sum().item()
        ).pvalue
    )


@pytest.mark.parametrize(
    "settings",
    [dict(), dict(temperature=0.7, top_k=12), dict(top_p=0.8), dict(min_p=0.05, temperature=1.4)],
)
def test_100k_draws_follow_the_filtered_softmax(settings):
    torch.manual_seed(0)
    row = random_logits(1, 24, 5)
    params = SamplingParams(**settings)
    draws_count = 100_000
    result = Sampler().sample(row.expand(draws_count, -1), [params] * draws_count)
    probs = process_logits(row, [params])[1].softmax(-1)[0]
    assert chi_square_p_value(result.token_ids, probs) > 1e-4


def test_seeded_draws_follow_the_filtered_softmax():
    row = random_logits(1, 16, 6)
    params = SamplingParams(top_k=8, seed=7)
    generator = generator_for(params)
    draws_count = 20_000
    result = Sampler().sample(
        row.expand(draws_count, -1), [params] * draws_count, generators=[generator] * draws_count
    )
    probs = process_logits(row, [params])[1].softmax(-1)[0]
    assert chi_square_p_value(result.token_ids, probs) > 1e-4


def test_chi_square_detects_a_wrong_distribution():
    probs = torch.tensor([0.5, 0.3, 0.2])
    draws = torch.multinomial(
        torch.tensor([0.4, 0.4, 0.2]), 100_000, replacement=True, generator=torch.Generator().manual_seed(0)
    )
    assert chi_square_p_value(draws, probs) < 1e-6


def test_logprobs_raw_by_default_and_processed_on_request():
    logits = random_logits(2, 100, 7)
    params = [SamplingParams(temperature=0.5, top_k=5, logprobs=3), SamplingParams(temperature=0)]
    raw = Sampler().sample(logits, params, generators=[torch.Generator().manual_seed(0), None])
    model_logprobs = logits.log_softmax(-1)
    assert torch.allclose(raw.logprobs, model_logprobs.gather(-1, raw.token_ids[:, None]).squeeze(-1))
    top = model_logprobs[0].topk(3)
    assert [token for token, _ in raw.top_logprobs[0]] == top.indices.tolist()
    assert [value for _, value in raw.top_logprobs[0]] == pytest.approx(top.values.tolist())
    assert raw.top_logprobs[1] == []

    processed = Sampler("processed").sample(
        logits, params, generators=[torch.Generator().manual_seed(0), None]
    )
    assert torch.equal(processed.token_ids, raw.token_ids)
    tempered = (logits[0] / 0.5).log_softmax(-1)  # before top-k: every token keeps a finite value
    assert processed.logprobs[0].item() == pytest.approx(tempered[processed.token_ids[0]].item(), abs=1e-5)
    assert [value for _, value in processed.top_logprobs[0]] == pytest.approx(
        tempered.topk(3).values.tolist()
    )
    assert Sampler().sample(logits, [SamplingParams()] * 2).top_logprobs is None


def test_sampler_bad_input_is_a_glossa_error():
    with pytest.raises(GlossaError, match="logprobs_mode"):
        Sampler("sampled")
    with pytest.raises(GlossaError, match="generator"):
        Sampler().sample(torch.zeros(2, 5), [SamplingParams()] * 2, generators=[None])

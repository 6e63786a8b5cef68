"""Speculative decoding: greedy output identical to plain decoding (n-gram and draft-model proposers), the
sampled distribution is the target's (statistical tests), acceptance rates are measured."""

import importlib.util
from pathlib import Path

import torch

from glossa.infer.engine import Engine
from glossa.infer.params import SamplingParams
from glossa.infer.speculative import DraftModelProposer, NgramProposer, greedy_verify, verify

_spec = importlib.util.spec_from_file_location("infer_conftest", Path(__file__).parent / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

GREEDY = SamplingParams(temperature=0, max_tokens=40, ignore_eos=True)


def test_rejection_rule_gives_exactly_the_target_distribution():
    generator = torch.Generator().manual_seed(0)
    p = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05])
    q = torch.tensor([0.05, 0.1, 0.15, 0.2, 0.5])  # a draft that is badly wrong
    trials = 8000
    firsts = torch.zeros(5)
    drafts = torch.multinomial(q, trials, replacement=True, generator=generator).tolist()
    for draft in drafts:
        token = verify([draft], torch.stack([p, p]), q[None], generator)[0]
        firsts[token] += 1
    frequencies = firsts / trials
    assert (frequencies - p).abs().max() < 0.02
    # accepting every draft (the wrong rule) would give q back: the test can tell the difference
    assert (q - p).abs().max() > 0.1


def test_one_hot_drafts_and_greedy_verification():
    assert greedy_verify([4, 5, 6], [4, 5, 9, 1]) == [4, 5, 9]
    assert greedy_verify([4, 5], [4, 5, 7]) == [4, 5, 7]
    p = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert verify([1], p) == [1, 2]  # certain target: accepted plus the bonus token
    assert verify([0], p) == [1]  # impossible draft: replaced by the target's choice


def test_ngram_proposer_finds_the_latest_earlier_match():
    proposer = NgramProposer(k=3, max_n=2)
    drafts, probs = proposer.propose("r", [1, 2, 3, 4, 9, 1, 2, 3, 5, 1, 2], GREEDY, 3)
    assert drafts == [3, 5, 1] and probs is None
    assert proposer.propose("r", [7, 8], GREEDY, 3) == ([], None)


def test_greedy_speculation_equals_plain_decoding(tiny_model):
    repetitive = [5, 6, 7, 8] * 6  # prompt lookup has something to copy
    prompts = [repetitive, *helpers.random_prompts(3, 10, 30, seed=4)]
    plain = [o.token_ids for o in Engine(tiny_model, num_blocks=64).generate(prompts, GREEDY)]
    ngram = Engine(tiny_model, num_blocks=64, speculative=NgramProposer(k=4))
    assert [o.token_ids for o in ngram.generate(prompts, GREEDY)] == plain
    assert ngram.stats.spec_proposed > 0 and 0 < ngram.stats.spec_acceptance_rate <= 1
    draft = Engine(tiny_model, num_blocks=64, speculative=DraftModelProposer(helpers.build_tiny(seed=1), k=3))
    assert [o.token_ids for o in draft.generate(prompts, GREEDY)] == plain
    same = Engine(tiny_model, num_blocks=64, speculative=DraftModelProposer(tiny_model, k=3))
    assert [o.token_ids for o in same.generate(prompts, GREEDY)] == plain
    assert same.stats.spec_acceptance_rate == 1.0  # the target as its own draft agrees every time
    for engine in (ngram, draft, same):
        assert engine.cache.num_free_blocks == engine.cache.num_blocks


def test_sampled_tokens_follow_the_target_distribution(tiny_model):
    """With a draft model that disagrees, the distribution of the 2nd generated token (the first that is
    verified) must still be the target's: P(t2) = Σ_t1 p(t1) p(t2 | t1), computed exactly."""
    vocab = 6
    target = helpers.build_tiny(seed=2, vocab_size=vocab, n_layers=1)
    draft_model = helpers.build_tiny(seed=3, vocab_size=vocab, n_layers=1, init_std=0.5)
    prompt = [1, 2, 3]
    with torch.inference_mode():
        p1 = target(torch.tensor([prompt])).logits[0, -1].softmax(-1)
        exact = sum(
            p1[t] * target(torch.tensor([[*prompt, t]])).logits[0, -1].softmax(-1) for t in range(vocab)
        )
    trials = 1000
    engine = Engine(
        target, max_num_seqs=256, max_num_batched_tokens=2048, num_blocks=512,
        speculative=DraftModelProposer(draft_model, k=2),
    )  # fmt: skip
    params = [SamplingParams(temperature=1.0, max_tokens=3, seed=i, ignore_eos=True) for i in range(trials)]
    outputs = engine.generate([prompt] * trials, params)
    counts = torch.bincount(torch.tensor([o.token_ids[1] for o in outputs]), minlength=vocab).float()
    assert engine.stats.spec_proposed > 0
    assert engine.stats.spec_acceptance_rate < 0.95  # the draft really disagrees sometimes
    assert (counts / trials - exact).abs().max() < 0.05
    assert engine.cache.num_free_blocks == engine.cache.num_blocks

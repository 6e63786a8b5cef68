"""The scheduler's one rule: a token budget per step, running requests first, FCFS within a priority,
preemption by recomputation, no starvation."""

import importlib.util
from pathlib import Path

from glossa.infer.engine import Engine
from glossa.infer.params import SamplingParams

_spec = importlib.util.spec_from_file_location("infer_conftest", Path(__file__).parent / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


def _params(tokens):
    return SamplingParams(temperature=0, max_tokens=tokens, ignore_eos=True)


def test_every_step_respects_the_token_budget_and_mixes_prefill_with_decode(tiny_model):
    engine = Engine(tiny_model, max_num_seqs=8, max_num_batched_tokens=20, num_blocks=64)
    for prompt in helpers.random_prompts(8, 5, 60):
        engine.add_request(prompt, _params(6))
    plans = []
    schedule = engine.scheduler.schedule

    def recording_schedule():
        plan = schedule()
        plans.append([s.num_new_tokens for s in plan.scheduled])
        return plan

    engine.scheduler.schedule = recording_schedule
    while engine.has_unfinished_requests():
        engine.step()
    assert all(sum(counts) <= 20 for counts in plans)
    assert any(sum(counts) == 20 for counts in plans)  # the budget is used, prompts are chunked
    mixed = any(1 in counts and any(c > 1 for c in counts) for counts in plans)
    assert mixed
    assert engine.cache.num_free_blocks == engine.cache.num_blocks


def test_no_starvation_under_a_steady_stream_of_short_requests(tiny_model):
    engine = Engine(tiny_model, max_num_seqs=4, max_num_batched_tokens=16, num_blocks=24)
    long_id = None
    finished_at = None
    for step in range(400):
        engine.add_request([step % 200 + 1, 2, 3], _params(2))  # a short request every step
        if step == 5:
            long_id = engine.add_request(list(range(1, 101)), _params(10))
        for output in engine.step():
            if output.request_id == long_id and output.finished:
                finished_at = step
        if finished_at is not None:
            break
    assert finished_at is not None and finished_at < 120


def test_lower_priority_value_runs_first_fcfs_among_equals(tiny_model):
    engine = Engine(tiny_model, max_num_seqs=1, max_num_batched_tokens=64, num_blocks=16)
    order = []
    engine.add_request([1, 2], _params(2), request_id="late-normal", priority=0)
    engine.add_request([1, 2], _params(2), request_id="urgent", priority=-1)
    engine.add_request([1, 2], _params(2), request_id="later-normal", priority=0)
    while engine.has_unfinished_requests():
        order += [o.request_id for o in engine.step() if o.finished]
    assert order == ["urgent", "late-normal", "later-normal"]


def test_preempted_requests_resume_with_the_same_output(tiny_model):
    prompts = helpers.random_prompts(6, 30, 40, seed=9)
    params = _params(30)
    expected = [o.token_ids for o in Engine(tiny_model, num_blocks=64).generate(prompts, params)]
    tight = Engine(tiny_model, max_num_seqs=6, max_num_batched_tokens=256, num_blocks=14)
    assert [o.token_ids for o in tight.generate(prompts, params)] == expected
    assert tight.stats.num_preemptions > 0
    assert tight.cache.num_free_blocks == tight.cache.num_blocks

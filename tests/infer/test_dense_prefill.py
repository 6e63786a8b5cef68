"""Prompt rows through dense bf16 copies, generated rows through int4: each row's result is independent of
the batch, so an int4 engine still gives every request exactly its solo output."""

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F

from glossa.infer.dense_prefill import RowRoute, keep_dense_copies, routing
from glossa.infer.engine import Engine
from glossa.infer.params import SamplingParams
from glossa.infer.quantized import Int4WeightOnlyLinear, prepare_model

_spec = importlib.util.spec_from_file_location("infer_conftest", Path(__file__).parent / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


def _linear() -> Int4WeightOnlyLinear:
    weight = torch.randn(192, 128, generator=torch.Generator().manual_seed(3)) * 0.05
    linear = Int4WeightOnlyLinear.from_float(weight)
    keep_dense_copies(torch.nn.ModuleList([linear]))
    return linear


def test_both_kernels_give_each_row_a_result_independent_of_the_other_rows():
    linear = _linear()
    x = torch.randn(70, 128, generator=torch.Generator().manual_seed(4)).bfloat16()
    whole_int4, whole_dense = linear._mm(x), F.linear(x, linear.dense)
    for rows in ([0], [5, 6, 7], list(range(17)), list(range(3, 70, 2))):
        index = torch.tensor(rows)
        assert torch.equal(linear._mm(x[index]), whole_int4[index])
        assert torch.equal(F.linear(x[index], linear.dense), whole_dense[index])
    assert torch.equal(linear.dense.float(), linear.dequantized_weight())  # the kernel's own weights
    assert float((whole_dense.float() - whole_int4.float()).abs().max()) < 0.05


def test_a_lone_dense_row_rounds_as_it_does_among_others():
    # 576 x 1536 is SmolLM2's down projection: oneDNN's one-row kernel sums it in another order
    weight = torch.randn(576, 1536, generator=torch.Generator().manual_seed(6)) * 0.02
    linear = Int4WeightOnlyLinear.from_float(weight)
    keep_dense_copies(torch.nn.ModuleList([linear]))
    x = torch.randn(64, 1536, generator=torch.Generator().manual_seed(7)).bfloat16()
    together = F.linear(x, linear.dense)
    # plain F.linear on one row differs from `together` in a few of these 64 rows on AVX-512 BF16 CPUs
    for i in range(64):
        with routing(RowRoute.of([0], 1)):
            assert torch.equal(linear(x[i : i + 1])[0], together[i])


def test_a_route_sends_each_row_down_its_path_and_only_when_the_row_count_matches():
    linear = _linear()
    x = torch.randn(9, 128, generator=torch.Generator().manual_seed(5))
    xb = x.bfloat16()
    route = RowRoute.of([0, 1, 2, 6], 9)
    with routing(route):
        mixed = linear(x)
        other_shape = linear(x[:4])  # a pass with another row count (the head, an expert) stays int4
    dense_rows, int4_rows = [0, 1, 2, 6], [3, 4, 5, 7, 8]
    assert torch.equal(mixed[dense_rows], F.linear(xb[dense_rows], linear.dense).float())
    assert torch.equal(mixed[int4_rows], linear._mm(xb[int4_rows]).float())
    assert torch.equal(other_shape, linear._mm(xb[:4]).float())
    assert torch.equal(linear(x), linear._mm(xb).float())  # no route: int4


def test_an_int4_engine_with_dense_prompts_gives_every_request_its_solo_output():
    model = prepare_model(helpers.build_tiny(seed=21, d_model=128, d_ff=256), "fast")
    prompts = helpers.random_prompts(12, 1, 60, seed=9)
    greedy = SamplingParams(temperature=0, max_tokens=16, ignore_eos=True)
    solo = []
    for prompt in prompts:
        alone = Engine(model, max_num_seqs=1, max_num_batched_tokens=128, num_blocks=8)
        solo.append(alone.generate([prompt], greedy)[0].token_ids)
    engine = Engine(model, max_num_seqs=12, max_num_batched_tokens=40, num_blocks=40)
    assert engine.dense_weight_bytes > 0 and engine.runner.dense_prefill
    assert [o.token_ids for o in engine.generate(prompts, greedy)] == solo
    assert engine.cache.num_free_blocks == engine.cache.num_blocks

    plain = Engine(model, max_num_seqs=12, dense_prefill=False)
    assert plain.dense_weight_bytes == 0 and not plain.runner.dense_prefill


def test_a_float_model_gets_no_copies():
    model = helpers.build_tiny(seed=2)
    assert keep_dense_copies(model.layers) == 0
    assert not Engine(model, max_num_seqs=2).runner.dense_prefill

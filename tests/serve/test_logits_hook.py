"""The engine's per-request logits-processor hook (`SamplingParams.logits_processors`), on a tiny random
model: a processor that allows one token makes the request produce only that token, batched with a request
without one (which is untouched), and the hook also holds with speculative decoding turned on (requests with
processors are not drafted for, so verification cannot bypass the mask)."""

import pytest
import torch

from glossa.errors import GlossaError
from glossa.infer.engine import Engine
from glossa.infer.params import SamplingParams
from glossa.infer.speculative import NgramProposer
from glossa.models.presets import preset
from glossa.models.transformer import Transformer


def only(token_id: int):
    def processor(output_ids, logits):
        masked = torch.full_like(logits, float("-inf"))
        masked[token_id] = logits[token_id]
        return masked

    return processor


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Transformer(preset("llama-tiny")).eval()


@pytest.mark.parametrize("speculative", [False, True])
def test_processor_masks_only_its_request(tiny, speculative):
    options = {"speculative": NgramProposer()} if speculative else {}
    engine = Engine(tiny, max_num_seqs=4, **options)
    prompt = [5, 6, 7, 5, 6, 7, 5, 6]
    plain = SamplingParams(temperature=0, max_tokens=8, ignore_eos=True)
    masked = SamplingParams(
        temperature=0.9, seed=3, max_tokens=8, ignore_eos=True, logits_processors=(only(42),)
    )
    alone = engine.generate([prompt], plain)[0].token_ids
    outputs = engine.generate([prompt, prompt], [plain, masked])
    assert outputs[0].token_ids == alone
    assert outputs[1].token_ids == [42] * 8
    assert engine.cache.num_free_blocks == engine.cache.num_blocks


def test_processors_must_be_callable():
    with pytest.raises(GlossaError, match="logits_processors"):
        SamplingParams(logits_processors=("not callable",))

"""`SamplingParams` validation: every bad value is a one-line GlossaError naming the field and its range."""

from __future__ import annotations

import math

import pytest

from glossa.errors import GlossaError
from glossa.infer.params import SamplingLimits, SamplingParams

BAD = [
    (dict(top_p=0), "top_p must be in (0, 1], got 0"),
    (dict(top_p=1.5), "top_p must be in (0, 1], got 1.5"),
    (dict(top_p=math.nan), "top_p must be in (0, 1]"),
    (dict(temperature=-0.1), "temperature must be a finite number >= 0"),
    (dict(temperature=math.inf), "temperature must be a finite number >= 0"),
    (dict(max_tokens=0), "max_tokens must be an integer in [1,"),
    (dict(max_tokens=-5), "max_tokens must be an integer in [1,"),
    (dict(n=17), "n must be an integer in [1, 16], got 17"),
    (dict(n=0), "n must be an integer in [1, 16], got 0"),
    (dict(stop=[1, 2]), "stop must be a list of strings"),
    (dict(stop=5), "stop must be a string or a list of strings"),
    (dict(stop=[""]), "each stop string must be 1 to"),
    (dict(stop=["x"] * 9), "stop must hold at most 8 strings"),
    (dict(top_k=-2), "top_k must be an integer >= 1, or 0 or -1"),
    (dict(top_k=2.5), "top_k must be an integer"),
    (dict(min_p=1.0), "min_p must be in [0, 1)"),
    (dict(repetition_penalty=0), "repetition_penalty must be a finite number > 0"),
    (dict(frequency_penalty=2.5), "frequency_penalty must be in [-2, 2]"),
    (dict(presence_penalty=-3), "presence_penalty must be in [-2, 2]"),
    (dict(logit_bias={5: 101}), "logit_bias values must be in [-100, 100]"),
    (dict(logit_bias={-1: 1}), "logit_bias keys must be token ids"),
    (dict(logit_bias=[1]), "logit_bias must be a mapping"),
    (dict(logprobs=21), "logprobs must be an integer in [0, 20]"),
    (dict(seed="abc"), "seed must be an integer"),
    (dict(stop_token_ids=[-1]), "stop_token_ids must be integers >= 0"),
    (dict(beam_width=0), "beam_width must be an integer in [1, 16]"),
    (dict(use_beam_search=True, beam_width=2, n=3), "n must be at most beam_width"),
    (dict(early_stopping="sometimes"), "early_stopping must be"),
    (dict(best_of=1, n=2), "best_of must be an integer in [2, 16]"),
    (dict(max_tokens=True), "max_tokens must be an integer"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_values_are_one_line_glossa_errors(kwargs, message):
    with pytest.raises(GlossaError) as error:
        SamplingParams(**kwargs)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_good_values_are_accepted_and_normalised():
    params = SamplingParams(
        temperature=0, top_k=-1, top_p=1, min_p=0.1, stop="###", logit_bias={"7": -100}, logprobs=0, seed=0
    )
    assert params.is_greedy
    assert params.stop == ("###",)
    assert params.logit_bias == {7: -100.0}
    assert not SamplingParams().is_greedy


def test_limits_are_configurable():
    assert SamplingParams(n=32, limits=SamplingLimits(max_n=64)).n == 32
    with pytest.raises(GlossaError, match="n must be an integer in \\[1, 4\\]"):
        SamplingParams(n=5, limits=SamplingLimits(max_n=4))

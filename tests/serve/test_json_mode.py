"""`response_format: {"type": "json_object"}`: the byte-level JSON automaton accepts exactly the prefixes of
JSON objects (checked against `json.loads`), the token masks of SmolLM2's vocabulary allow only tokens that
keep a valid prefix, and a served reply is valid JSON (or, cut by max_tokens, a valid prefix of it)."""

import json
import random

import pytest

from glossa.infer.params import SamplingParams
from glossa.serve.json_mode import START, JsonMaskBuilder, JsonObjectProcessor, advance_bytes

OBJECTS = [
    "{}",
    '{"a": 1}',
    '{"a":[1,2.5e-3,{"b":null}],"c":"x\\u00e9\\n","d":true,"e":false}',
    '{"a": -0.5, "b": [ ], "c": {}}',
    '{"é": "ü 🐍"}',
    '{"n": 0, "m": -12E+4}',
]
NOT_OBJECTS = [
    "[1]",
    '"a"',
    "1",
    '{"a" 1}',
    '{"a":01}',
    '{"a":1,}',
    "{,}",
    '{"a":tru}',
    '{"a":1}}',
    " {}",
    '{"a":.5}',
]


def is_done(text: str) -> bool:
    state = advance_bytes(START, text.encode())
    return state is not None and state[0] == "done"


@pytest.mark.parametrize("text", OBJECTS)
def test_every_prefix_of_an_object_is_accepted(text):
    assert isinstance(json.loads(text), dict)
    data = text.encode()
    assert all(advance_bytes(START, data[:end]) is not None for end in range(len(data) + 1))
    assert is_done(text)


@pytest.mark.parametrize("text", NOT_OBJECTS)
def test_non_objects_are_refused(text):
    assert not is_done(text)


def test_random_texts_agree_with_json_loads():
    rng = random.Random(0)
    alphabet = list('{}[]":,0123456789.-+eEtrufalsn \\ab')
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        try:
            valid = isinstance(json.loads(text), dict) and text == text.strip() and "  " not in text
        except ValueError:
            valid = False
        if valid:
            assert is_done(text), text
        elif is_done(text):
            pytest.fail(f"accepted {text!r}, which json.loads refuses")


@pytest.fixture(scope="module")
def builder(pool):
    return JsonMaskBuilder.for_tokenizer(pool.get("smollm2").tokenizer)


@pytest.mark.parametrize(
    "prefix", ["", "{", '{"na', '{"name":', '{"name": "Fel', '{"a": [1, 2', '{"a": {"b": 1}}']
)
def test_masks_allow_exactly_the_tokens_that_keep_a_valid_prefix(builder, prefix):
    state = advance_bytes(START, prefix.encode())
    allowed = builder.mask(state)
    rng = random.Random(1)
    for token_id in rng.sample(range(builder.vocab_size), 3000):
        data = builder.token_bytes[token_id]
        keeps = bool(data) and advance_bytes(state, data) is not None
        assert bool(allowed[token_id]) == keeps or (token_id == builder.eos_id and state[0] == "done")
    assert bool(allowed[builder.eos_id]) == (state[0] == "done")


def test_processor_plugs_into_sampling_params(builder):
    import torch

    params = SamplingParams(logits_processors=(JsonObjectProcessor(builder),))
    logits = torch.zeros(builder.vocab_size)
    masked = params.logits_processors[0]([], logits)
    allowed = {int(i) for i in torch.nonzero(masked == 0)}
    assert all(builder.token_bytes[i].startswith(b"{") for i in allowed)


def test_served_reply_is_json(client, auth):
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "Describe a cat as a JSON object with a name and an age."}],
        "max_tokens": 16,
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }
    choice = client.post("/v1/chat/completions", json=body, headers=auth).json()["choices"][0]
    text = choice["message"]["content"]
    assert advance_bytes(START, text.encode()) is not None, text
    if choice["finish_reason"] == "stop":
        assert isinstance(json.loads(text), dict)

"""Whatever a client sends, the answer is a 4xx in OpenAI's error shape, never a 500: malformed JSON, wrong
types, a 10 MB body, invalid UTF-8, lone surrogates, n=10**6, max_tokens=-1, a prompt over the context,
unknown models and routes, wrong methods. And the engine is left with nothing allocated."""

import pytest

CHAT = {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"not json at all",
        b"\xff\xfe\x00garbage",
        b'{"model": "smollm2", "prompt": "\xff\xfe"}',
        b"[]",
        b"null",
        b'{"model": "smollm2", "prompt": "\\ud800"}',
        b'{"model": 5, "prompt": "x"}',
        b'{"model": "smollm2", "prompt": {"a": 1}}',
        b'{"model": "smollm2"}',
        b'{"model": "smollm2", "prompt": "x", "temperature": "hot"}',
        b'{"model": "smollm2", "prompt": "x", "n": 1000000}',
        b'{"model": "smollm2", "prompt": "x", "max_tokens": -1}',
        b'{"model": "smollm2", "prompt": "x", "max_tokens": 100000000000000000000000}',
        b'{"model": "smollm2", "prompt": "x", "top_p": 7}',
        b'{"model": "smollm2", "prompt": "x", "temperature": NaN}',
        b'{"model": "smollm2", "prompt": "x", "logit_bias": {"99999999": 1}}',
        b'{"model": "smollm2", "prompt": "x", "logit_bias": {"\xc2\xb2": 1}}',
        b'{"model": "smollm2", "prompt": [1, 2, 99999999]}',
        b'{"model": "smollm2", "prompt": []}',
        b'{"model": "smollm2", "prompt": "x", "seed": 100000000000000000000000000}',
        b'{"model": "smollm2", "prompt": "x", "stop": ["a", 3]}',
        b'{"model": "smollm2", "prompt": "x", "logprobs": 99}',
        b'{"model": "smollm2", "prompt": "x", "response_format": {"type": "json_schema"}}',
    ],
)
def test_bad_completion_bodies_are_400(client, auth, openai_error, body):
    openai_error(client.post("/v1/completions", content=body, headers={**auth, **JSON}), 400)


@pytest.mark.parametrize(
    "change",
    [
        {"messages": []},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"messages": [{"role": "user"}], "max_tokens": 1},
        {"messages": "Hi"},
        {"top_logprobs": 3},
        {"logprobs": True, "top_logprobs": 50},
        {"max_completion_tokens": 0},
        {"presence_penalty": 3},
        {"min_p": 1},
    ],
)
def test_bad_chat_bodies_are_400(client, auth, openai_error, change):
    openai_error(client.post("/v1/chat/completions", json={**CHAT, **change}, headers=auth), 400)


def test_context_length_error_states_the_limit_and_counts(client, auth, openai_error):
    long_prompt = "word " * 600
    error = openai_error(
        client.post("/v1/completions", json={"model": "smollm2", "prompt": long_prompt}, headers=auth), 400
    )
    assert error["code"] == "context_length_exceeded" and "512" in error["message"]
    error = openai_error(
        client.post(
            "/v1/completions",
            json={"model": "smollm2", "prompt": "word " * 500, "max_tokens": 30},
            headers=auth,
        ),
        400,
    )
    assert "512" in error["message"] and "30 in the completion" in error["message"]


def test_ten_megabyte_body_is_413_with_the_limit(client, auth, openai_error):
    error = openai_error(
        client.post("/v1/completions", content=b"x" * (10 << 20), headers={**auth, **JSON}), 413
    )
    assert "1048576" in error["message"]


def test_unknown_model_route_and_method(client, auth, openai_error):
    error = openai_error(
        client.post("/v1/chat/completions", json={**CHAT, "model": "nope"}, headers=auth), 404
    )
    assert error["code"] == "model_not_found" and "smollm2" in error["message"]
    openai_error(client.get("/v1/nothing-here", headers=auth), 404)
    openai_error(client.get("/v1/completions", headers=auth), 405)
    openai_error(client.post("/v1/embeddings", json={"model": "smollm2", "input": "x"}, headers=auth), 400)
    openai_error(client.post("/v1/completions", json={"model": "minilm", "prompt": "x"}, headers=auth), 400)


def test_tokenize_and_detokenize(client, auth, openai_error, pool):
    tokenizer = pool.get("smollm2").tokenizer
    got = client.post("/tokenize", json={"model": "smollm2", "prompt": "Hello world"}, headers=auth).json()
    assert (
        got["tokens"] == tokenizer.encode("Hello world", add_special_tokens=True)
        and got["max_model_len"] == 512
    )
    text = client.post("/detokenize", json={"model": "smollm2", "tokens": got["tokens"]}, headers=auth).json()
    assert text["prompt"] == tokenizer.decode(got["tokens"])
    openai_error(client.post("/detokenize", json={"model": "smollm2", "tokens": [-1]}, headers=auth), 400)
    openai_error(client.post("/tokenize", json={"model": "smollm2"}, headers=auth), 400)


def test_nothing_left_allocated(client, auth, engine_idle):
    client.post("/v1/completions", json={"model": "smollm2", "prompt": "x", "n": 1000000}, headers=auth)
    assert engine_idle()

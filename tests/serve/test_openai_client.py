"""The official `openai` client against a running `glossa serve` (uvicorn on a loopback port): every call type
works, streamed text equals non-streamed text under greedy decoding, usage equals the tokenizer's counts, and
embeddings equal glossa's own MiniLM encoder."""

import numpy as np
import pytest

openai = pytest.importorskip("openai")

MESSAGES = [{"role": "user", "content": "Name one colour."}]


@pytest.fixture(scope="module")
def oa(server, api_key):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=api_key, max_retries=0, timeout=120)


def chat_prompt_tokens(pool, messages) -> int:
    tokenizer = pool.get("smollm2").tokenizer
    return len(tokenizer.encode(tokenizer.apply_chat_template(messages), allowed_special="all"))


def test_models_list(oa):
    assert {"smollm2", "minilm"} <= {model.id for model in oa.models.list()}


def test_chat_stream_equals_whole_and_usage_matches_tokenizer(oa, pool):
    whole = oa.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=6, temperature=0)
    chunks = list(
        oa.chat.completions.create(
            model="smollm2",
            messages=MESSAGES,
            max_tokens=6,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content and streamed
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage == whole.usage
    tokenizer = pool.get("smollm2").tokenizer
    assert usage.prompt_tokens == chat_prompt_tokens(
        pool, MESSAGES
    )  # SmolLM2's default system prompt included
    assert usage.completion_tokens == len(tokenizer.encode(whole.choices[0].message.content)) <= 6


def test_system_message_replaces_the_default_one(oa, pool):
    messages = [{"role": "system", "content": "You are terse."}, *MESSAGES]
    reply = oa.chat.completions.create(model="smollm2", messages=messages, max_tokens=2, temperature=0)
    assert (
        reply.usage.prompt_tokens == chat_prompt_tokens(pool, messages) < chat_prompt_tokens(pool, MESSAGES)
    )


def test_completions_n_stop_logprobs_seed(oa):
    prompt = "The capital of France is"
    first = oa.completions.create(
        model="smollm2", prompt=prompt, max_tokens=5, n=2, seed=7, temperature=1.0, logprobs=2
    )
    again = oa.completions.create(
        model="smollm2", prompt=prompt, max_tokens=5, n=2, seed=7, temperature=1.0, logprobs=2
    )
    assert [c.index for c in first.choices] == [0, 1]
    assert [c.text for c in first.choices] == [c.text for c in again.choices]  # a seed reproduces
    for choice in first.choices:
        lp = choice.logprobs
        assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) >= 1
        assert all(value <= 0 for value in lp.token_logprobs)
        assert "".join(lp.tokens) == choice.text or choice.finish_reason == "stop"
    greedy = oa.completions.create(model="smollm2", prompt=prompt, max_tokens=5, temperature=0)
    word = greedy.choices[0].text.strip().split()[0].strip(".")
    stopped = oa.completions.create(model="smollm2", prompt=prompt, max_tokens=5, temperature=0, stop=[word])
    assert stopped.choices[0].finish_reason == "stop" and word not in stopped.choices[0].text


def test_chat_logprobs_and_n(oa):
    reply = oa.chat.completions.create(
        model="smollm2",
        messages=MESSAGES,
        max_tokens=3,
        n=2,
        logprobs=True,
        top_logprobs=3,
        temperature=0.8,
        seed=1,
    )
    assert len(reply.choices) == 2
    assert sum(len(choice.logprobs.content) for choice in reply.choices) == reply.usage.completion_tokens
    for choice in reply.choices:
        content = choice.logprobs.content
        assert all(len(item.top_logprobs) == 3 and item.logprob <= 0 for item in content)
        assert "".join(item.token for item in content) == choice.message.content


def test_completion_stream_equals_whole(oa):
    kwargs = dict(model="smollm2", prompt="Once upon a time", max_tokens=6, temperature=0)
    whole = oa.completions.create(**kwargs).choices[0].text
    streamed = "".join(
        chunk.choices[0].text for chunk in oa.completions.create(stream=True, **kwargs) if chunk.choices
    )
    assert streamed == whole


def test_embeddings_match_glossa_encoder(oa, pool):
    texts = ["a cat sat on the mat", "an invoice is due"]
    response = oa.embeddings.create(model="minilm", input=texts)  # the client asks for base64 by default
    got = np.array([item.embedding for item in response.data])
    expected = pool.get("minilm").embedder.embed(texts).numpy()
    assert got.shape == (2, 384)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    floats = oa.embeddings.create(model="minilm", input=texts[0], encoding_format="float")
    np.testing.assert_allclose(floats.data[0].embedding, expected[0], atol=1e-6)


def test_unknown_model_is_a_not_found_error(oa):
    with pytest.raises(openai.NotFoundError):
        oa.chat.completions.create(model="gpt-9", messages=MESSAGES, max_tokens=1)


def test_engine_is_idle_after_the_calls(oa, engine_idle):
    oa.completions.create(model="smollm2", prompt="Hi", max_tokens=1)
    assert engine_idle()

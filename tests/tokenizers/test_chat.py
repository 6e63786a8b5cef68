"""Chat templates rendered by glossa equal transformers' apply_chat_template, and bad input is refused."""

from __future__ import annotations

import pytest

from glossa.errors import GlossaError
from glossa.tokenizers.chat import render_chat_template
from glossa.tokenizers.loading import load_tokenizer

CONVERSATIONS = {
    "one user message": [{"role": "user", "content": "What is a token?"}],
    "system and user": [
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": "Why split words into pieces?"},
    ],
    "multi-turn": [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me about <|im_end|> tokens, 東京 and émoji 👍\n\nthanks"},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": "  spaces  and\ttabs  "},
    ],
}


@pytest.fixture(scope="module")
def smollm2():
    return load_tokenizer("smollm2")


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_same_as_transformers(smollm2, smollm2_transformers, name, add_generation_prompt):
    messages = CONVERSATIONS[name]
    expected = smollm2_transformers.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    rendered = render_chat_template(smollm2, messages, add_generation_prompt=add_generation_prompt)
    assert rendered == expected
    assert smollm2.apply_chat_template(messages, add_generation_prompt=add_generation_prompt) == expected


def test_default_system_prompt(smollm2):
    rendered = smollm2.apply_chat_template(CONVERSATIONS["one user message"])
    assert rendered.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert rendered.endswith("<|im_start|>user\nWhat is a token?<|im_end|>\n<|im_start|>assistant\n")
    ids = smollm2.encode(rendered, allowed_special="all")
    assert ids.count(1) == 3 and ids.count(2) == 2  # <|im_start|> ×3, <|im_end|> ×2


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ("hello", "must be a list"),
        ({"role": "user", "content": "hi"}, "must be a list"),
        (["hello"], "message 0 is a str"),
        ([{"role": "user"}], "message 0 needs a string 'content'"),
        ([{"role": "user", "content": None}], "needs a string 'content'"),
        ([{"role": 1, "content": "hi"}], "needs a string 'role'"),
        ([{"role": "user", "content": "hi"}, {"role": "user", "content": ["a"]}], "message 1"),
        ([{"role": "user", "content": "hi", "name": 3}], "field 'name' must be a string"),
    ],
)
def test_malformed_messages(smollm2, messages, message):
    with pytest.raises(GlossaError, match=message):
        render_chat_template(smollm2, messages)


def test_tokenizer_without_template(minilm_dir):
    minilm = load_tokenizer(minilm_dir)
    with pytest.raises(GlossaError, match="has no chat template"):
        minilm.apply_chat_template([{"role": "user", "content": "hi"}])


class Templated:
    """The smallest object `render_chat_template` needs: a template and no special tokens."""

    name = "test"
    bos_id = eos_id = pad_id = unk_id = None

    def __init__(self, template: str) -> None:
        self.chat_template = template


def test_template_errors_and_sandbox():
    refusing = Templated("{{ raise_exception('Only user and assistant roles are supported') }}")
    with pytest.raises(GlossaError, match="refused the messages: Only user and assistant"):
        render_chat_template(refusing, [])
    escaping = Templated("{{ messages.__class__.__mro__ }}")
    with pytest.raises(GlossaError, match="refused the messages"):
        render_chat_template(escaping, [{"role": "user", "content": "hi"}])
    namespace = Templated("{% set ns = namespace(_secret=1) %}{{ ns }}")
    with pytest.raises(GlossaError, match="may not set '_secret'"):
        render_chat_template(namespace, [])
    with pytest.raises(GlossaError, match="not valid Jinja"):
        render_chat_template(Templated("{% for %}"), [])


def test_tojson_and_loop_controls():
    template = Templated(
        "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m | tojson }}{% endfor %}"
    )
    rendered = render_chat_template(
        template, [{"role": "user", "content": "é <b>"}, {"role": "x", "content": ""}]
    )
    assert rendered == '{"role": "user", "content": "é <b>"}'

"""Chat templates: a conversation turned into the one string an instruct model was tuned on.

An instruct model never sees "messages"; it sees text with role markers that its fine-tuning data used, e.g.
SmolLM2's ChatML:

    <|im_start|>system
    You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
    <|im_start|>user
    Hi<|im_end|>
    <|im_start|>assistant

The model ships the rule as a Jinja template (`tokenizer.chat_template` in a GGUF, `chat_template` in
tokenizer_config.json). Rendering it exactly as transformers' `apply_chat_template` does is what makes a
prompt match training; a missing newline is a quietly worse model. So the environment is transformers' own:
`trim_blocks` and `lstrip_blocks`, the `loopcontrols` extension, a `tojson` that keeps non-ASCII and does not
HTML-escape, `raise_exception` and `strftime_now`, and the variables `messages`, `add_generation_prompt`, the
special tokens by name (`bos_token`, `eos_token`, …), and `tools`/`documents` as None.

Templates come with downloaded models, so they are untrusted code: they run in Jinja's
`ImmutableSandboxedEnvironment` (no attribute access to Python internals, no mutation of the messages), and
`namespace()` refuses underscore names as transformers does. Messages are checked first: a list of objects
with string `role` and `content`.

The system prompt lives here too: SmolLM2's template inserts its default one ("You are a helpful AI
assistant named SmolLM…") when the conversation does not start with a system message.

    >>> render_chat_template(load_tokenizer("smollm2"), [{"role": "user", "content": "Hi"}])[-40:]
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
import jinja2.sandbox
import jinja2.utils

from glossa.errors import GlossaError
from glossa.tokenizers.base import Tokenizer


def render_chat_template(
    tokenizer: Tokenizer, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool = True
) -> str:
    """`messages` rendered with the tokenizer's chat template, as transformers' apply_chat_template does."""
    if not tokenizer.chat_template:
        raise GlossaError(
            f"tokenizer {tokenizer.name!r} has no chat template; it is not an instruct model, "
            "so give it plain text instead of messages"
        )
    chat = checked_messages(messages)
    template = compiled_template(tokenizer.chat_template)
    try:
        return template.render(
            messages=chat,
            add_generation_prompt=add_generation_prompt,
            tools=None,
            documents=None,
            **special_token_variables(tokenizer),
        )
    except jinja2.TemplateError as error:
        raise GlossaError(f"the chat template of {tokenizer.name!r} refused the messages: {error}") from None


def checked_messages(messages: object) -> list[dict[str, str]]:
    """Plain copies of the messages, or a GlossaError saying which one is malformed."""
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Sequence):
        raise GlossaError('messages must be a list of {"role": ..., "content": ...} objects')
    checked = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise GlossaError(
                f'message {index} is a {type(message).__name__}, not a {{"role", "content"}} object'
            )
        for field in ("role", "content"):
            if not isinstance(message.get(field), str):
                raise GlossaError(f"message {index} needs a string {field!r}, got {message.get(field)!r}")
        for key, value in message.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise GlossaError(f"message {index}: field {key!r} must be a string, got {value!r}")
        checked.append({str.__str__(key): str.__str__(value) for key, value in message.items()})
    return checked


def special_token_variables(tokenizer: Tokenizer) -> dict[str, str]:
    """The special tokens' text by name (bos_token, eos_token, …), as transformers passes them."""
    variables = {}
    for name, token_id in (
        ("bos_token", tokenizer.bos_id),
        ("eos_token", tokenizer.eos_id),
        ("pad_token", tokenizer.pad_id),
        ("unk_token", tokenizer.unk_id),
    ):
        if token_id is not None:
            variables[name] = tokenizer.id_to_token(token_id)
    return variables


@lru_cache(maxsize=16)
def compiled_template(source: str) -> jinja2.Template:
    """The template compiled in transformers' sandboxed environment (cached: servers render per request)."""
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = _strftime_now
    environment.globals["namespace"] = _Namespace
    try:
        return environment.from_string(source)
    except jinja2.TemplateSyntaxError as error:
        raise GlossaError(
            f"the chat template is not valid Jinja: {error.message} (line {error.lineno})"
        ) from None


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, separators=None, sort_keys=False
):
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise_exception(message: str) -> None:
    raise jinja2.TemplateError(message)


def _strftime_now(date_format: str) -> str:
    return datetime.now().strftime(date_format)


class _Namespace(jinja2.utils.Namespace):
    """Jinja's namespace() without underscore attributes, so a template cannot reach Python internals."""

    def __init__(*args: Any, **kwargs: Any) -> None:
        self, args = args[0], args[1:]
        attributes = dict(*args, **kwargs)
        for name in attributes:
            _Namespace._check_name(name)
        jinja2.utils.Namespace.__init__(self, attributes)

    def __setitem__(self, name: str, value: Any) -> None:
        _Namespace._check_name(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check_name(name: object) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(f"a chat template may not set {name!r} on a namespace")

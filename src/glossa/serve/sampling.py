"""From a request body to what the engine takes: prompt token ids and `SamplingParams`, checked at the door.

Everything a client can get wrong is found here, before the engine sees the request, and answered with a 400
that names the field: text that is not valid Unicode (a lone surrogate survives JSON parsing but not UTF-8
encoding), a prompt longer than the context (the message states the limit and the counts, as OpenAI's
`context_length_exceeded` does), `max_tokens` or `n` above the server's limits, `logit_bias` ids outside the
vocabulary. Chat messages go through the model's own chat template (SmolLM2's adds its default system prompt
when the conversation has none) and are tokenised with their special tokens recognised.
"""

from __future__ import annotations

import re

from glossa.errors import GlossaError
from glossa.infer.params import SamplingLimits, SamplingParams
from glossa.serve.config import ServeConfig
from glossa.serve.errors import APIError
from glossa.serve.json_mode import JsonMaskBuilder, JsonObjectProcessor
from glossa.serve.models import ServedModel
from glossa.serve.protocol import ChatCompletionRequest, ChatMessage, CompletionRequest

MAX_PROMPTS = 16
TOKEN_ID = re.compile(r"[0-9]{1,9}")


def checked_text(text: str, param: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise APIError(
            400, f"{param} is not valid Unicode (it holds a lone surrogate)", param=param
        ) from None
    return text


def message_dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """Messages as the chat template wants them: role and text content (text parts joined)."""
    result = []
    for index, message in enumerate(messages):
        content = message.content
        if isinstance(content, list):
            content = "".join(part.text for part in content)
        role = "system" if message.role == "developer" else message.role
        if content is None and role != "assistant":
            raise APIError(400, f"message {index} ({role}) needs content", param=f"messages.{index}.content")
        result.append({"role": role, "content": checked_text(content or "", f"messages.{index}.content")})
    return result


def chat_prompt_ids(
    served: ServedModel, messages: list[ChatMessage], add_generation_prompt: bool = True
) -> list[int]:
    tokenizer = served.tokenizer
    text = tokenizer.apply_chat_template(message_dicts(messages), add_generation_prompt=add_generation_prompt)
    return tokenizer.encode(text, allowed_special="all")


def completion_prompts(served: ServedModel, prompt: str | list) -> list[list[int]]:
    """One list of ids per prompt: a string, a list of strings, a list of ids or a list of id lists."""
    vocab = served.tokenizer.vocab_size
    if isinstance(prompt, str):
        prompt = [prompt]
    if not prompt:
        raise APIError(400, "prompt is empty: give a string, a list of strings or token ids", param="prompt")
    if all(isinstance(item, int) for item in prompt):
        prompt = [prompt]
    if len(prompt) > MAX_PROMPTS:
        raise APIError(400, f"at most {MAX_PROMPTS} prompts per request, got {len(prompt)}", param="prompt")
    result = []
    for index, item in enumerate(prompt):
        if isinstance(item, str):
            ids = served.tokenizer.encode(checked_text(item, f"prompt.{index}"), add_special_tokens=True)
        else:
            ids = list(item)
            if any(not 0 <= token < vocab for token in ids):
                raise APIError(400, f"prompt token ids must be in [0, {vocab})", param="prompt")
        if not ids:
            raise APIError(400, "a prompt is empty: give at least one token", param="prompt")
        result.append(ids)
    return result


def checked_logit_bias(bias: dict[str, float] | None, vocab: int) -> dict[int, float] | None:
    if bias is None:
        return None
    checked = {}
    for key, value in bias.items():
        if not TOKEN_ID.fullmatch(key) or int(key) >= vocab:
            raise APIError(
                400, f"logit_bias keys must be token ids in [0, {vocab}), got {key!r}", param="logit_bias"
            )
        checked[int(key)] = value
    return checked


def sampling_params(
    body: CompletionRequest | ChatCompletionRequest,
    served: ServedModel,
    config: ServeConfig,
    prompt_lengths: list[int],
) -> SamplingParams:
    """The request's SamplingParams under the server's limits (APIError 400 / GlossaError otherwise)."""
    chat = isinstance(body, ChatCompletionRequest)
    context = served.engine.max_model_len if served.engine is not None else 0
    longest = max(prompt_lengths)
    param = "messages" if chat else "prompt"
    if longest >= context:
        raise APIError(
            400,
            f"This model's maximum context length is {context} tokens. However, your {param} has {longest} "
            f"tokens, which leaves no room to generate: shorten it to {context - 1} tokens or fewer.",
            param=param,
            code="context_length_exceeded",
        )
    max_tokens = (
        body.max_completion_tokens if chat and body.max_completion_tokens is not None else body.max_tokens
    )
    if max_tokens is None:
        max_tokens = min(config.max_tokens, context - longest) if chat else min(16, config.max_tokens)
    elif not 1 <= max_tokens <= config.max_tokens:
        raise APIError(
            400, f"max_tokens must be in [1, {config.max_tokens}], got {max_tokens}", param="max_tokens"
        )
    if longest + max_tokens > context:
        raise APIError(
            400,
            f"This model's maximum context length is {context} tokens. However, you requested "
            f"{longest + max_tokens} tokens ({longest} in the {param}, {max_tokens} in the completion). "
            "Please reduce the length of the prompt or max_tokens.",
            param=param,
            code="context_length_exceeded",
        )
    if not 1 <= body.n <= config.max_n:
        raise APIError(400, f"n must be in [1, {config.max_n}], got {body.n}", param="n")
    if chat:
        logprobs = (body.top_logprobs or 0) if body.logprobs else None
        if body.top_logprobs is not None and not body.logprobs:
            raise APIError(400, "top_logprobs needs logprobs: true", param="top_logprobs")
    else:
        logprobs = body.logprobs
        if body.echo:
            raise APIError(400, "echo is not supported by this server: leave it false", param="echo")
    stop = body.stop
    for index, item in enumerate([stop] if isinstance(stop, str) else stop or []):
        checked_text(item, f"stop.{index}")
    processors = ()
    if body.response_format is not None and body.response_format.type != "text":
        if body.response_format.type != "json_object":
            raise APIError(
                400, "response_format json_schema is not supported: use json_object", param="response_format"
            )
        processors = (JsonObjectProcessor(JsonMaskBuilder.for_tokenizer(served.tokenizer)),)
    given = {
        name: getattr(body, name)
        for name in (
            "temperature",
            "top_p",
            "top_k",
            "min_p",
            "frequency_penalty",
            "presence_penalty",
            "repetition_penalty",
            "seed",
        )
        if getattr(body, name) is not None
    }
    try:
        return SamplingParams(
            n=body.n,
            ignore_eos=body.ignore_eos,
            max_tokens=max_tokens,
            stop=stop,
            logprobs=logprobs,
            logit_bias=checked_logit_bias(body.logit_bias, served.tokenizer.vocab_size),
            logits_processors=processors,
            limits=SamplingLimits(max_n=config.max_n, max_tokens=config.max_tokens),
            **given,
        )
    except GlossaError as error:
        raise APIError(400, str(error), code="invalid_value") from None

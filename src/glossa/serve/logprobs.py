"""Log-probabilities in OpenAI's two shapes, from the engine's per-token values.

Chat (`logprobs: true, top_logprobs: k`): `{"content": [{"token", "logprob", "bytes", "top_logprobs"}]}`,
each token's text and its UTF-8 bytes (a byte-level token may be half a character: its text then shows
U+FFFD and `bytes` holds the truth). Legacy completions (`logprobs: k`): parallel lists `tokens`,
`token_logprobs`, `top_logprobs` (token text → logprob) and `text_offset` (where each token starts in the
text). Values are the model's raw log-softmax (the engine's default, as vLLM's), before sampling settings.
"""

from __future__ import annotations

from glossa.infer.engine import CompletionOutput
from glossa.tokenizers.base import Tokenizer


def token_text(tokenizer: Tokenizer, token_id: int) -> tuple[str, list[int]]:
    data = tokenizer.token_bytes(token_id)
    if not data:  # a special token: its name
        return tokenizer.id_to_token(token_id), []
    return data.decode("utf-8", "replace"), list(data)


def chat_logprobs(tokenizer: Tokenizer, completion: CompletionOutput, start: int) -> dict | None:
    """The `logprobs` of a chat choice for tokens `start:` (all of them when not streaming)."""
    if completion.logprobs is None:
        return None
    content = []
    tops = completion.top_logprobs or []
    for position in range(start, len(completion.logprobs)):
        text, data = token_text(tokenizer, completion.token_ids[position])
        alternatives = []
        for token_id, value in (tops[position] if position < len(tops) else {}).items():
            alt_text, alt_bytes = token_text(tokenizer, token_id)
            alternatives.append({"token": alt_text, "logprob": value, "bytes": alt_bytes})
        content.append(
            {
                "token": text,
                "logprob": completion.logprobs[position],
                "bytes": data,
                "top_logprobs": alternatives,
            }
        )
    return {"content": content}


def completion_logprobs(
    tokenizer: Tokenizer, completion: CompletionOutput, start: int, offset: int
) -> dict | None:
    """The legacy `logprobs` object for tokens `start:`, text offsets counted from `offset`."""
    if completion.logprobs is None:
        return None
    tokens, values, tops, offsets = [], [], [], []
    all_tops = completion.top_logprobs or []
    for position in range(start, len(completion.logprobs)):
        text, _ = token_text(tokenizer, completion.token_ids[position])
        tokens.append(text)
        values.append(completion.logprobs[position])
        offsets.append(offset)
        offset += len(text)
        top = all_tops[position] if position < len(all_tops) else {}
        tops.append({token_text(tokenizer, token_id)[0]: value for token_id, value in top.items()} or None)
    return {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets}

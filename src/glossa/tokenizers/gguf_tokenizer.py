"""A tokenizer built from a GGUF file's metadata, the way llama.cpp builds its vocabulary.

A GGUF model carries its tokenizer as metadata keys (llama.cpp `llama-vocab.cpp`):

- `tokenizer.ggml.model`: the algorithm. "gpt2" is byte-level BPE (GPT-2, Llama-3, SmolLM2, Qwen…); the
  others ("llama" SentencePiece-BPE, "bert" WordPiece, "t5" Unigram, "rwkv") are refused by name for now.
- `tokenizer.ggml.tokens`: the vocabulary, id = index, in the GPT-2 byte-to-unicode alphabet ("Ġthe").
- `tokenizer.ggml.merges`: "left right" strings in rank order; a byte-level token never holds a real space
  (a space is "Ġ"), so the one space separates the pair.
- `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. Control and
  user-defined tokens become special tokens: text that matches them is a special id only when the caller
  allows it (llama.cpp's `parse_special`).
- `tokenizer.ggml.pre`: the pre-tokenizer, the regex that cuts text before merging. llama.cpp names it after
  the model family; `PRE_TOKENIZERS` maps the names to ours, and an unknown one is refused rather than
  guessed, because a wrong split gives different ids without any error. Llama-3 vocabularies ("llama-bpe")
  also look a whole piece up before merging (`ignore_merges`), as llama.cpp does for them.
- `tokenizer.ggml.bos_token_id`, `eos_token_id`, `padding_token_id`, `add_bos_token`, and
  `tokenizer.chat_template` (the Jinja template of the instruct model).

`unknown_token_id` is read and checked but not kept: byte-level BPE can spell any text from its 256 byte
tokens and never produces an unknown token (SmolLM2 names <|endoftext|> as its "unknown" token).

    >>> tokenizer = tokenizer_from_gguf(smollm2_gguf())
    >>> tokenizer.encode("Hello world 123")
    [19556, 905, 216, 33, 34, 35]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from glossa.errors import GlossaError
from glossa.formats.gguf import read_gguf_metadata
from glossa.tokenizers.base import Tokenizer
from glossa.tokenizers.bpe import ByteLevelBPE

TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4
SPECIAL_TOKEN_TYPES = (TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED)

PRE_TOKENIZERS: dict[str, str] = {
    "smollm": "smollm",
    "llama-bpe": "llama3",
    "llama3": "llama3",
    "gpt-2": "gpt2",
    "gpt2": "gpt2",
    "default": "gpt2",
}


def tokenizer_from_gguf(path: str | Path) -> Tokenizer:
    """The tokenizer stored in a GGUF file's metadata."""
    path = Path(path)
    return tokenizer_from_gguf_metadata(read_gguf_metadata(path), source=str(path), name=path.stem)


def tokenizer_from_gguf_metadata(metadata: Mapping[str, Any], *, source: str, name: str) -> Tokenizer:
    """The tokenizer described by GGUF metadata (`source` names the file in error messages)."""
    model = metadata.get("tokenizer.ggml.model")
    if model is None:
        raise GlossaError(
            f"{source} has no tokenizer (no tokenizer.ggml.model key in its metadata); "
            "use a GGUF converted with its tokenizer, or load the tokenizer from its own files"
        )
    if model != "gpt2":
        raise GlossaError(
            f"{source} has a {model!r} tokenizer; glossa reads GGUF tokenizers of type 'gpt2' "
            "(byte-level BPE) so far: load this model's tokenizer.json or vocab.txt instead"
        )
    return _byte_level_bpe(_Metadata(metadata, source), name=str(metadata.get("general.basename") or name))


class _Metadata:
    """Typed access to the tokenizer keys, each failure a GlossaError naming the key."""

    def __init__(self, metadata: Mapping[str, Any], source: str) -> None:
        self.metadata = metadata
        self.source = source

    def fail(self, key: str, problem: str) -> GlossaError:
        return GlossaError(f"{self.source}: metadata key {key} {problem}")

    def strings(self, key: str, *, required: bool = True) -> list[str]:
        value = self.metadata.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(key, "is missing or not an array of strings")
        return value

    def integers(self, key: str, length: int) -> np.ndarray | None:
        value = self.metadata.get(key)
        if value is None:
            return None
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu" or value.shape != (length,):
            raise self.fail(key, f"must be an array of {length} integers, one per token")
        return value

    def token_id(self, key: str, vocab_size: int) -> int | None:
        value = self.metadata.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < vocab_size:
            raise self.fail(key, f"is {value!r}, not a token id (0..{vocab_size - 1})")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.metadata.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"is {value!r}, not a boolean")
        return value

    def string(self, key: str) -> str | None:
        value = self.metadata.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, "is not a string")
        return value


def _byte_level_bpe(metadata: _Metadata, *, name: str) -> ByteLevelBPE:
    tokens = metadata.strings("tokenizer.ggml.tokens")
    if not tokens:
        raise metadata.fail("tokenizer.ggml.tokens", "is empty")
    merges = [
        _split_merge(merge, rank, metadata)
        for rank, merge in enumerate(metadata.strings("tokenizer.ggml.merges"))
    ]
    token_types = metadata.integers("tokenizer.ggml.token_type", len(tokens))
    special_ids = (
        [] if token_types is None else np.flatnonzero(np.isin(token_types, SPECIAL_TOKEN_TYPES)).tolist()
    )
    pre = metadata.string("tokenizer.ggml.pre") or "default"
    if pre not in PRE_TOKENIZERS:
        known = ", ".join(sorted(PRE_TOKENIZERS))
        raise metadata.fail(
            "tokenizer.ggml.pre", f"names pre-tokenizer {pre!r}, which glossa does not know (known: {known})"
        )
    vocab_size = len(tokens)
    metadata.token_id("tokenizer.ggml.unknown_token_id", vocab_size)
    pretokenizer = PRE_TOKENIZERS[pre]
    return ByteLevelBPE(
        tokens,
        merges,
        pretokenizer=pretokenizer,
        special_tokens={tokens[token_id]: token_id for token_id in special_ids},
        bos_id=metadata.token_id("tokenizer.ggml.bos_token_id", vocab_size),
        eos_id=metadata.token_id("tokenizer.ggml.eos_token_id", vocab_size),
        pad_id=metadata.token_id("tokenizer.ggml.padding_token_id", vocab_size),
        add_bos=metadata.flag("tokenizer.ggml.add_bos_token", False),
        chat_template=metadata.string("tokenizer.chat_template"),
        name=name,
        ignore_merges=pretokenizer == "llama3",
    )


def _split_merge(merge: str, rank: int, metadata: _Metadata) -> tuple[str, str]:
    left, space, right = merge.partition(" ")
    if not space or not left or not right or " " in right:
        raise metadata.fail("tokenizer.ggml.merges", f"entry {rank} is {merge!r}, not 'left right'")
    return left, right

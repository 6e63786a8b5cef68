"""The `Tokenizer` interface that every algorithm (byte-level BPE, WordPiece, Unigram) implements.

A tokenizer turns text into token ids and back. Everything downstream — the data pipeline, the model, the
engine, the server — sees only this interface: `encode`, `decode`, `vocab_size`, the special tokens,
`token_bytes` (the raw bytes each id stands for, which bits-per-byte needs) and `apply_chat_template`.

Special tokens are never produced from a user's text unless the caller allows it: `encode(text)` treats
`<|im_start|>` in the text as plain characters, `encode(text, allowed_special="all")` as the special token.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from typing import Literal

AllowedSpecial = Literal["none", "all"] | Collection[str]


class Tokenizer(ABC):
    """Text ⇄ token ids. Subclasses set the attributes below in their constructor."""

    name: str = "tokenizer"
    special_tokens: dict[str, int]  # text of each special token -> its id
    bos_id: int | None = None
    eos_id: int | None = None
    pad_id: int | None = None
    unk_id: int | None = None
    chat_template: str | None = None  # a Jinja template, as models ship it

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""

    @abstractmethod
    def encode(
        self, text: str, *, allowed_special: AllowedSpecial = "none", add_special_tokens: bool = False
    ) -> list[int]:
        """Token ids of `text`. `add_special_tokens` adds what the model expects around a sequence
        (BOS for Llama-style models that want it, [CLS] … [SEP] for BERT)."""

    @abstractmethod
    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        """The text of `ids`; bytes that do not form valid UTF-8 become U+FFFD."""

    @abstractmethod
    def id_to_token(self, token_id: int) -> str:
        """The token's string as the vocabulary stores it (e.g. 'Ġthe', '##ing', '▁the')."""

    @abstractmethod
    def token_to_id(self, token: str) -> int | None:
        """The id of a vocabulary string, or None."""

    @abstractmethod
    def token_bytes(self, token_id: int) -> bytes:
        """The UTF-8 bytes this token contributes to decoded text (empty for special tokens)."""

    def encode_batch(self, texts: Sequence[str], *, processes: int = 1) -> list[list[int]]:
        """Encode many texts; `processes > 1` spreads them over worker processes."""
        from glossa.tokenizers.batch import encode_in_processes

        return encode_in_processes(self, texts, max(1, processes))

    def apply_chat_template(
        self, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True
    ) -> str:
        """Render chat messages with the model's own template, as transformers' apply_chat_template does."""
        from glossa.tokenizers.chat import render_chat_template

        return render_chat_template(self, messages, add_generation_prompt=add_generation_prompt)

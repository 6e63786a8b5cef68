"""Streaming decode: turn token ids into text one id at a time, never emitting half a character.

A byte-level token is bytes, not characters: "é" may be two tokens of one byte each, an emoji four. A server
that decodes each new token on its own would send U+FFFD and then garbage; one that re-decodes the whole
sequence each step does quadratic work. `StreamDecoder` keeps the bytes of an unfinished character back
(Python's incremental UTF-8 decoder does the buffering) and emits text as soon as it is complete:

    >>> from glossa.tokenizers.bpe_train import train_bpe
    >>> bpe = train_bpe(["é"], 256, progress=False)
    >>> stream = StreamDecoder(bpe)
    >>> [stream.feed(token_id) for token_id in bpe.encode("é")]
    ['', 'é']
    >>> stream.flush()
    ''

Whatever way an id sequence is cut, the pieces joined equal `tokenizer.decode(ids)`: invalid bytes become
U+FFFD exactly as a whole decode would make them, bytes still pending at the end become U+FFFD on `flush()`,
and a special token first flushes the pending bytes and then contributes its text (or nothing, with
`skip_special_tokens=True`), as `ByteLevelBPE.decode` does.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable

from glossa.tokenizers.base import Tokenizer


class StreamDecoder:
    """Feed ids one at a time with `feed`, get the text that became complete; `flush` at the end."""

    def __init__(self, tokenizer: Tokenizer, *, skip_special_tokens: bool = False) -> None:
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self._special_ids = frozenset(tokenizer.special_tokens.values())
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, token_id: int) -> str:
        """The text that `token_id` completes (often "", while a character is still incomplete)."""
        if token_id in self._special_ids:
            pending = self._decoder.decode(b"", final=True)
            self._decoder.reset()
            return pending if self.skip_special_tokens else pending + self.tokenizer.id_to_token(token_id)
        return self._decoder.decode(self.tokenizer.token_bytes(token_id))

    def feed_many(self, token_ids: Iterable[int]) -> str:
        """The text completed by several ids in a row."""
        return "".join(self.feed(token_id) for token_id in token_ids)

    def flush(self) -> str:
        """End of stream: the bytes still pending, each maximal invalid run as U+FFFD. The decoder is ready
        for a new stream afterwards."""
        pending = self._decoder.decode(b"", final=True)
        self._decoder.reset()
        return pending

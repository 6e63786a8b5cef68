"""`IncrementalDetokenizer`: token ids in, text out as it becomes safe to show, stop strings honoured.

Two things make streaming text harder than decoding at the end:
- a character may span tokens (an emoji is four bytes, often several byte-level tokens): `StreamDecoder` keeps
  the bytes of an unfinished character back, so no piece ever holds half of one;
- a stop string may span tokens ("\\n\\nUser:" arriving as "\\n", "\\nUser", ":"): text that could still
  be the start of a stop string is held back — the longest suffix of the pending text that is a prefix of
  some stop string — and released only when the next text rules the stop out. On a match the text is cut just
  before the stop string, which is never shown, and the detokenizer reports finished with reason "stop".

    detok = IncrementalDetokenizer(tokenizer, stop=["\\n\\n"])
    for token_id in generated:
        send(detok.feed([token_id]))
        if detok.finished:
            break
    send(detok.finish())           # end of generation (EOS, max_tokens): release what was held back

Joined, the pieces equal `tokenizer.decode(ids)` cut before the first stop string (special tokens are skipped
by default, as vLLM's `skip_special_tokens=True`). Work per token is O(stop lengths), never a re-decode.
"""

from __future__ import annotations

from collections.abc import Sequence

from glossa.infer.params import validate_stop
from glossa.tokenizers.base import Tokenizer
from glossa.tokenizers.stream import StreamDecoder


class IncrementalDetokenizer:
    """Feed ids with `feed`, get the new text; `finished`, `finish_reason`, `stop_string` say why it ended."""

    def __init__(
        self, tokenizer: Tokenizer, stop: Sequence[str] = (), *, skip_special_tokens: bool = True
    ) -> None:
        self.stop = validate_stop(list(stop))
        self._stream = StreamDecoder(tokenizer, skip_special_tokens=skip_special_tokens)
        self._held = ""
        self.text = ""  # everything emitted so far
        self.finished = False
        self.finish_reason: str | None = None
        self.stop_string: str | None = None

    def feed(self, token_ids: Sequence[int]) -> str:
        """The text these ids make safe to show ("" after the detokenizer has finished)."""
        if self.finished:
            return ""
        return self._release(self._held + self._stream.feed_many(token_ids), final=False)

    def finish(self, reason: str = "length") -> str:
        """End of generation for `reason` ("length", or "stop" for an EOS/stop token): the held-back text."""
        if self.finished:
            return ""
        text = self._release(self._held + self._stream.flush(), final=True)
        if not self.finished:
            self.finished, self.finish_reason = True, reason
        return text

    def _release(self, pending: str, *, final: bool) -> str:
        match = self._first_stop(pending)
        if match is not None:
            position, stop = match
            out = pending[:position]
            self._held = ""
            self.finished, self.finish_reason, self.stop_string = True, "stop", stop
        else:
            hold = 0 if final else self._stop_prefix_length(pending)
            out, self._held = pending[: len(pending) - hold], pending[len(pending) - hold :]
        self.text += out
        return out

    def _first_stop(self, text: str) -> tuple[int, str] | None:
        found = [(text.find(stop), stop) for stop in self.stop]
        found = [(position, stop) for position, stop in found if position >= 0]
        return min(found, key=lambda item: item[0]) if found else None

    def _stop_prefix_length(self, text: str) -> int:
        """Length of the longest suffix of `text` that is a proper prefix of a stop string."""
        longest = 0
        for stop in self.stop:
            for length in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:length]):
                    longest = length
                    break
        return longest

"""How well a tokenizer fits a text: the numbers people compare tokenizers by.

- **bytes per token** (UTF-8 bytes / tokens) and **characters per token**: compression. More text per token
  means a longer effective context and fewer forward passes for the same text; English with a 50k BPE is
  about 4 bytes per token, a language the vocabulary barely saw can fall towards 1.
- **fertility**: tokens per whitespace-separated word. 1.0 would be a word-level vocabulary; words a
  tokenizer splits into many pieces cost more compute and are harder to learn.
- **vocabulary use**: distinct ids in the text / vocabulary size. Ids that never occur are rows of the
  embedding matrix the model never trains.
- **unknown rate**: the share of tokens that are the unknown token. Byte-level BPE has no unknown token (any
  byte can be spelled), so this is 0 by construction; WordPiece maps whole words it cannot cover to [UNK],
  information lost before the model sees it.

    >>> stats = tokenizer_stats(load_tokenizer("smollm2"), "Hello world 123")
    >>> stats.tokens, stats.bytes_per_token
    (6, 2.5)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from glossa.tokenizers.base import Tokenizer


@dataclass(frozen=True)
class TokenizerStats:
    """Counts of one tokenizer over some text; the ratios are properties. `a + b` pools two texts."""

    name: str
    vocab_size: int
    tokens: int
    bytes: int
    characters: int
    words: int
    unknown: int
    used_ids: frozenset[int] = field(repr=False)

    @property
    def bytes_per_token(self) -> float:
        return self.bytes / self.tokens if self.tokens else 0.0

    @property
    def characters_per_token(self) -> float:
        return self.characters / self.tokens if self.tokens else 0.0

    @property
    def fertility(self) -> float:
        return self.tokens / self.words if self.words else 0.0

    @property
    def distinct_ids(self) -> int:
        return len(self.used_ids)

    @property
    def vocabulary_use(self) -> float:
        return len(self.used_ids) / self.vocab_size if self.vocab_size else 0.0

    @property
    def unknown_rate(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0

    def __add__(self, other: TokenizerStats) -> TokenizerStats:
        return TokenizerStats(
            self.name,
            self.vocab_size,
            self.tokens + other.tokens,
            self.bytes + other.bytes,
            self.characters + other.characters,
            self.words + other.words,
            self.unknown + other.unknown,
            self.used_ids | other.used_ids,
        )


def tokenizer_stats(tokenizer: Tokenizer, text: str | Iterable[str]) -> TokenizerStats:
    """The statistics of `tokenizer` on `text` (or on several texts together). No special tokens are added."""
    texts = [text] if isinstance(text, str) else list(text)
    total = TokenizerStats(tokenizer.name, tokenizer.vocab_size, 0, 0, 0, 0, 0, frozenset())
    for one_text in texts:
        total = total + stats_of_ids(tokenizer, one_text, tokenizer.encode(one_text))
    return total


def stats_of_ids(tokenizer: Tokenizer, text: str, ids: list[int]) -> TokenizerStats:
    """The statistics of ids already encoded from `text`."""
    unknown = ids.count(tokenizer.unk_id) if tokenizer.unk_id is not None else 0
    return TokenizerStats(
        name=tokenizer.name,
        vocab_size=tokenizer.vocab_size,
        tokens=len(ids),
        bytes=len(text.encode("utf-8", "surrogatepass")),
        characters=len(text),
        words=len(text.split()),
        unknown=unknown,
        used_ids=frozenset(ids),
    )


@dataclass(frozen=True)
class Comparison:
    """Two tokenizers on the same text. `token_ratio` > 1 means `b` needs more tokens than `a`."""

    a: TokenizerStats
    b: TokenizerStats

    @property
    def token_ratio(self) -> float:
        return self.b.tokens / self.a.tokens if self.a.tokens else 0.0


def compare_tokenizers(a: Tokenizer, b: Tokenizer, text: str | Iterable[str]) -> Comparison:
    texts = [text] if isinstance(text, str) else list(text)
    return Comparison(tokenizer_stats(a, texts), tokenizer_stats(b, texts))

"""Byte-level Byte Pair Encoding (BPE), the tokenizer of GPT-2, Llama-3, SmolLM2 and most open LLMs.

Encoding is four steps:

1. split the text on the special tokens the caller allows (none by default, so "<|im_end|>" typed by a user
   is ordinary text);
2. cut each ordinary span into pieces with the regex pre-tokenizer (`pretokenize.py`);
3. start from the piece's UTF-8 bytes, each the id of its one-character token in the byte-level alphabet
   (`bytelevel.py`), so any string at all can be encoded and nothing is ever unknown;
4. merge: repeatedly join the adjacent pair with the lowest merge rank (the order training learned them),
   leftmost first on a tie, until no adjacent pair has a rank. The merges work on ids: the vocabulary and
   merge strings are turned once, in the constructor, into a table (left id, right id) -> (rank, merged id).

    >>> bpe = ByteLevelBPE(["a", "b", "ab"], [("a", "b")])
    >>> bpe.encode("abba")
    [2, 1, 0]
    >>> bpe.decode([2, 1, 0])
    'abba'

Step 4 is exactly what HF `tokenizers` does (`Word::merge_all`: a heap of (rank, position)), so ids agree with
it even for odd merge lists. Short pieces use the plain loop (find the lowest-ranked pair, join it); pieces
of `HEAP_MERGE_FROM` bytes or more use the heap with a linked list, which is O(n log n) instead of
O(n^2) lookups for a megabyte of spaces or of text without spaces.

`ignore_merges=True` first looks the whole piece up in the vocabulary and uses it when present, as Llama-3's
tokenizer.json asks HF to (and llama.cpp does for Llama-3): tiktoken-trained vocabularies hold tokens that
their converted merge list cannot always rebuild. It is an addition to the constructor other code uses.

Speed comes from the fact that text repeats: a few tens of thousands of distinct pieces make up millions of
words, so a cache from the piece (the raw text, before any byte conversion) to its ids turns most of
encoding into one `regex.findall` plus one dict lookup per piece. The cache is a plain dict, emptied when it
holds `CACHE_LIMIT` pieces, so memory stays bounded on adversarial input.

A vocabulary that lacks some of the 256 byte tokens (SmolLM2's has no token for 21 bytes that never occur in
its training data, such as 0x04 or 0xFF) drops those bytes when encoding, as HF `tokenizers` (with no unknown
token) and llama.cpp both do; text that holds them then does not round-trip.

Decoding is exact for any id sequence: the tokens' bytes are concatenated and decoded once, with U+FFFD for
bytes that are not valid UTF-8 (an id sequence may end in the middle of a character). Special tokens
contribute their text (or nothing, with `skip_special_tokens=True`) and no bytes.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Sequence
from itertools import pairwise

import regex

from glossa.errors import GlossaError
from glossa.tokenizers.base import AllowedSpecial, Tokenizer
from glossa.tokenizers.bytelevel import bytes_to_byte_level, bytes_to_unicode, from_byte_level
from glossa.tokenizers.pretokenize import check_pretokenizer, compiled_pattern

CACHE_LIMIT = 200_000
HEAP_MERGE_FROM = 256
_ID_BITS = 32
_ID_MASK = (1 << _ID_BITS) - 1
_NO_RANK = 1 << 62  # sorts after every real (rank << 32 | id)


class ByteLevelBPE(Tokenizer):
    """A byte-level BPE tokenizer built from a vocabulary and a ranked merge list."""

    def __init__(
        self,
        vocab: Sequence[str],
        merges: Sequence[tuple[str, str]],
        *,
        pretokenizer: str = "gpt2",
        special_tokens: dict[str, int] | None = None,
        bos_id: int | None = None,
        eos_id: int | None = None,
        pad_id: int | None = None,
        add_bos: bool = False,
        chat_template: str | None = None,
        name: str = "bpe",
        ignore_merges: bool = False,
    ) -> None:
        self.pretokenizer = check_pretokenizer(pretokenizer)
        self.name = name
        self.vocab: list[str] = list(vocab)
        self.merges: list[tuple[str, str]] = [(left, right) for left, right in merges]
        self.special_tokens = dict(special_tokens or {})
        self.add_bos = add_bos
        self.chat_template = chat_template
        self.ignore_merges = ignore_merges

        self._id_to_token = list(self.vocab)
        for text, token_id in sorted(self.special_tokens.items(), key=lambda item: item[1]):
            if not isinstance(token_id, int) or token_id < 0:
                raise GlossaError(f"special token {text!r} has id {token_id!r}: ids are integers from 0")
            if not text:
                raise GlossaError(f"special token {token_id} is empty: a special token needs text to match")
            if token_id == len(self._id_to_token):
                self._id_to_token.append(text)
            elif token_id > len(self._id_to_token):
                raise GlossaError(
                    f"special token {text!r} has id {token_id}, leaving ids {len(self._id_to_token)}.."
                    f"{token_id - 1} undefined: give every id below it a token"
                )
            else:
                self._id_to_token[token_id] = text
        self._special_ids = frozenset(self.special_tokens.values())
        for role, token_id in (("bos_id", bos_id), ("eos_id", eos_id), ("pad_id", pad_id)):
            if token_id is not None and not 0 <= token_id < len(self._id_to_token):
                raise GlossaError(
                    f"{role} {token_id} is outside the vocabulary (0..{len(self._id_to_token) - 1})"
                )
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id

        self._vocab_ids: dict[str, int] = {}
        for token_id, token in enumerate(self.vocab):
            self._vocab_ids.setdefault(token, token_id)
        self._token_to_id = {**self._vocab_ids, **self.special_tokens}
        self._token_bytes = [
            b"" if token_id in self._special_ids else from_byte_level(token)
            for token_id, token in enumerate(self._id_to_token)
        ]
        self._merge_table = self._build_merge_table()
        self._byte_ids = self._byte_token_ids()
        self._lacks_bytes = -1 in self._byte_ids
        self._pattern = compiled_pattern(self.pretokenizer)
        self._special_patterns: dict[frozenset[str], regex.Pattern[str]] = {}
        self._cache: dict[str, list[int]] = {}

    def _build_merge_table(self) -> dict[int, int]:
        """pair_key(left id, right id) -> rank << 32 | merged id. A pair listed twice keeps its last rank, as
        HF `tokenizers` and GPT-2 do."""
        table: dict[int, int] = {}
        for rank, (left, right) in enumerate(self.merges):
            ids = [self._vocab_ids.get(part) for part in (left, right, left + right)]
            if None in ids:
                missing = (left, right, left + right)[ids.index(None)]
                raise GlossaError(
                    f"merge {rank} ({left!r}, {right!r}) uses {missing!r}, which is not in the vocabulary: "
                    "the merges must come from the same tokenizer as the vocabulary"
                )
            table[pair_key(ids[0], ids[1])] = rank << _ID_BITS | ids[2]
        return table

    def _byte_token_ids(self) -> list[int]:
        """The id of each single-byte token, by byte value; -1 for a byte the vocabulary lacks."""
        return [self._vocab_ids.get(char, -1) for char in bytes_to_unicode().values()]

    # -- the Tokenizer interface -------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    def encode(
        self, text: str, *, allowed_special: AllowedSpecial = "none", add_special_tokens: bool = False
    ) -> list[int]:
        ids: list[int] = []
        if add_special_tokens and self.add_bos and self.bos_id is not None:
            ids.append(self.bos_id)
        specials = self._allowed_specials(allowed_special)
        if not specials:
            self._encode_ordinary(text, ids)
            return ids
        pattern = self._special_pattern(specials)
        start = 0
        for match in pattern.finditer(text):
            self._encode_ordinary(text[start : match.start()], ids)
            ids.append(self.special_tokens[match.group()])
            start = match.end()
        self._encode_ordinary(text[start:], ids)
        return ids

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        self._check_ids(ids)
        table = self._token_bytes
        if self._special_ids.isdisjoint(ids):
            return b"".join([table[token_id] for token_id in ids]).decode("utf-8", errors="replace")
        parts: list[str] = []
        run: list[bytes] = []
        for token_id in ids:
            if token_id in self._special_ids:
                parts.append(b"".join(run).decode("utf-8", errors="replace"))
                run.clear()
                if not skip_special_tokens:
                    parts.append(self._id_to_token[token_id])
            else:
                run.append(table[token_id])
        parts.append(b"".join(run).decode("utf-8", errors="replace"))
        return "".join(parts)

    def id_to_token(self, token_id: int) -> str:
        self._check_ids((token_id,))
        return self._id_to_token[token_id]

    def token_to_id(self, token: str) -> int | None:
        return self._token_to_id.get(token)

    def token_bytes(self, token_id: int) -> bytes:
        self._check_ids((token_id,))
        return self._token_bytes[token_id]

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special_ids

    def clear_cache(self) -> None:
        """Forget the cached pieces (to measure cold encoding, or to free memory)."""
        self._cache.clear()

    # -- encoding ----------------------------------------------------------------------------------------

    def _encode_ordinary(self, text: str, ids: list[int]) -> None:
        """Append the ids of `text` (no special tokens in it) to `ids`: the hot path."""
        cache = self._cache
        for piece in self._pattern.findall(text):
            piece_ids = cache.get(piece)
            if piece_ids is None:
                piece_ids = self._encode_piece(piece)
            ids.extend(piece_ids)

    def _encode_piece(self, piece: str) -> list[int]:
        """Ids of one pre-token, by BPE merges over its bytes; remembered in the cache."""
        try:
            data = piece.encode("utf-8")
        except UnicodeEncodeError as error:
            raise GlossaError(
                f"the text holds a lone surrogate U+{ord(piece[error.start]):04X}, which UTF-8 cannot "
                "encode: pass valid Unicode text"
            ) from None
        whole = self._vocab_ids.get(bytes_to_byte_level(data)) if self.ignore_merges else None
        if whole is not None:
            piece_ids = [whole]
        else:
            ids = list(map(self._byte_ids.__getitem__, data))
            if self._lacks_bytes:
                ids = [token_id for token_id in ids if token_id >= 0]
            piece_ids = merge_ids(ids, self._merge_table)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[piece] = piece_ids
        return piece_ids

    def _allowed_specials(self, allowed_special: AllowedSpecial) -> frozenset[str]:
        if allowed_special == "none":
            return frozenset()
        if allowed_special == "all":
            return frozenset(self.special_tokens)
        if isinstance(allowed_special, str):
            raise GlossaError(
                f"allowed_special={allowed_special!r}: use 'none', 'all' or a set of token texts"
            )
        allowed = frozenset(allowed_special)
        unknown = sorted(allowed - self.special_tokens.keys())
        if unknown:
            raise GlossaError(f"{unknown[0]!r} is not a special token of {self.name}: allow only its own")
        return allowed

    def _special_pattern(self, specials: frozenset[str]) -> regex.Pattern[str]:
        """An alternation of the allowed special tokens, longest first (leftmost-longest, as HF matches)."""
        pattern = self._special_patterns.get(specials)
        if pattern is None:
            ordered = sorted(specials, key=lambda text: (-len(text), text))
            pattern = regex.compile("|".join(regex.escape(text) for text in ordered))
            self._special_patterns[specials] = pattern
        return pattern

    def _check_ids(self, ids: Collection[int]) -> None:
        if ids and (min(ids) < 0 or max(ids) >= len(self._id_to_token)):
            bad = next(i for i in ids if not 0 <= i < len(self._id_to_token))
            raise GlossaError(f"token id {bad} is outside the vocabulary (0..{len(self._id_to_token) - 1})")

    # -- pickling (for worker processes): the compiled patterns and the cache are rebuilt ----------------

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_pattern"] = None
        state["_special_patterns"] = {}
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._pattern = compiled_pattern(self.pretokenizer)

    def __repr__(self) -> str:
        return (
            f"ByteLevelBPE(name={self.name!r}, vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"pretokenizer={self.pretokenizer!r}, special_tokens={len(self.special_tokens)})"
        )


def pair_key(left: int, right: int) -> int:
    """One int for a pair of ids (a dict keyed by ints is faster than one keyed by tuples)."""
    return left << _ID_BITS | right


def merge_ids(ids: list[int], merge_table: dict[int, int]) -> list[int]:
    """Apply BPE merges to `ids`: join the lowest-ranked adjacent pair (leftmost on a tie) until none is left.

    `merge_table[pair_key(a, b)]` is `rank << 32 | merged_id`, so the smallest value is the lowest rank.
    `pair_ranks[i]` holds that value for (ids[i], ids[i + 1]); a merge changes only its two neighbours, so
    each step is one `min` and one `index` (both in C) plus two lookups. Long inputs go to the heap version,
    which gives the same result in O(n log n)."""
    if len(ids) >= HEAP_MERGE_FROM:
        return merge_ids_heap(ids, merge_table)
    get = merge_table.get
    pair_ranks = [get(left << _ID_BITS | right, _NO_RANK) for left, right in pairwise(ids)]
    while pair_ranks:
        best = min(pair_ranks)
        if best == _NO_RANK:
            break
        at = pair_ranks.index(best)
        merged = best & _ID_MASK
        ids[at : at + 2] = (merged,)
        del pair_ranks[at]
        if at < len(pair_ranks):
            pair_ranks[at] = get(merged << _ID_BITS | ids[at + 1], _NO_RANK)
        if at > 0:
            pair_ranks[at - 1] = get(ids[at - 1] << _ID_BITS | merged, _NO_RANK)
    return ids


def merge_ids_heap(ids: list[int], merge_table: dict[int, int]) -> list[int]:
    """The same merges with a heap of (rank, position) over a linked list, as HF's `Word::merge_all`.

    A heap entry goes stale when a neighbour merges first; it is recognised on pop because the pair now at
    its position has a different rank (or its left id was absorbed) and skipped.
    """
    count = len(ids)
    ids = list(ids)
    following = [*range(1, count), -1]
    preceding = list(range(-1, count - 1))
    alive = [True] * count
    get = merge_table.get
    heap = [
        (value, at) for at in range(count - 1) if (value := get(pair_key(ids[at], ids[at + 1]))) is not None
    ]
    heapq.heapify(heap)
    while heap:
        value, at = heapq.heappop(heap)
        right = following[at]
        if not alive[at] or right < 0 or get(pair_key(ids[at], ids[right])) != value:
            continue
        ids[at] = value & _ID_MASK
        alive[right] = False
        following[at] = following[right]
        if following[at] >= 0:
            preceding[following[at]] = at
        left = preceding[at]
        if left >= 0 and (new_value := get(pair_key(ids[left], ids[at]))) is not None:
            heapq.heappush(heap, (new_value, left))
        after = following[at]
        if after >= 0 and (new_value := get(pair_key(ids[at], ids[after]))) is not None:
            heapq.heappush(heap, (new_value, at))
    return [token_id for token_id, kept in zip(ids, alive, strict=True) if kept]


def vocab_from_pairs(pairs: Iterable[tuple[str, int]]) -> list[str]:
    """A vocabulary list (id = index) from (token, id) pairs such as tokenizer.json's `vocab` object."""
    by_id = sorted(pairs, key=lambda pair: pair[1])
    for expected, (token, token_id) in enumerate(by_id):
        if token_id != expected:
            raise GlossaError(f"vocabulary ids must be 0..n-1 without gaps; {token!r} has id {token_id}")
    return [token for token, _ in by_id]

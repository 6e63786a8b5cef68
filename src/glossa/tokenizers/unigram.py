"""The Unigram language-model tokenizer (Kudo 2018), SentencePiece style: raw text in, best segmentation out.

SentencePiece does not pre-split text into words. It replaces every space with the visible meta symbol `▁`
(U+2581), puts one `▁` in front of the text (`add_dummy_prefix`, so a word at the start looks like a word
after a space), and treats the result as one string of characters. Each vocabulary piece `p` has a score,
its log-probability `log P(p)`; a segmentation's score is the sum of its pieces' scores, and encoding picks
the segmentation with the highest score:

    text      "Hello world"
    string    "▁Hello▁world"
    lattice   every vocabulary piece that occurs at every position (an edge from its start to its end)
    Viterbi   best path through the lattice:   ▁Hello | ▁wor | ld

The lattice is also what subword regularisation samples from (`encode_sample`): forward-filtering then
backward-sampling draws a segmentation with probability ∝ P(segmentation)^alpha, or one of the n best
(`encode_nbest`).

Byte fallback: a character that no piece covers becomes the `<0xXX>` tokens of its UTF-8 bytes, so no input
is ever unknown (without byte fallback it becomes `<unk>`). Such a character's edge scores the lowest piece
score minus 10, as in SentencePiece. A literal `▁` in the input is also spelled in bytes (E2 96 81), so that
it comes back as `▁` and not as a space: that makes `decode(encode(x)) == x` for every string.

Decoding concatenates: pieces with `▁` turned back into spaces, runs of byte tokens as UTF-8 (invalid bytes
become U+FFFD), and one leading space dropped — the dummy prefix — at the start and after each special token
(`encode` adds a dummy prefix to every run of text that starts the input or follows a special token).

Speed: when no piece has `▁` after its first character (what training with `split_by_whitespace` gives),
no lattice edge crosses a `▁`, so the best path of the whole string is the best paths of its `▁`-started
chunks, which are cached. That is an exact shortcut, not a pre-segmentation; vocabularies with inner `▁`s
use the lattice over the whole text.

    >>> tokenizer = train_unigram(tiny_shakespeare_lines, vocab_size=1000)   # unigram_train.py
    >>> tokenizer.tokenize("First Citizen: naïve")
    ['▁First', '▁Citizen:', '▁n', 'a', '<0xC3>', '<0xAF>', 've']

Saved as JSON: `{"format": "glossa-unigram", "version": 1, "vocab": [[piece, score, kind], …], …}`, with
`kind` one of "normal", "byte", "special", written atomically.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from glossa.atomic import atomic_write_text
from glossa.errors import GlossaError
from glossa.tokenizers.base import AllowedSpecial, Tokenizer

SPACE = "▁"
UNK_PENALTY = 10.0
UNK_SURFACE = " ⁇ "
FORMAT = "glossa-unigram"
VERSION = 1
_FALLBACK = -1  # the piece id of a byte-fallback (or unknown) edge inside a lattice
_CHUNK = regex.compile(r" [^ ]*|[^ ]+")
_CACHE_LIMIT = 500_000


def byte_token(value: int) -> str:
    return f"<0x{value:02X}>"


@dataclass(frozen=True)
class Edge:
    start: int
    end: int
    piece_id: int  # _FALLBACK for a character no piece covers
    score: float


@dataclass
class Lattice:
    """Every way to cut `string` into vocabulary pieces: `ending_at[i]` lists the edges that end at i."""

    string: str  # the ▁-form of the text
    original: str  # the text itself, same length: a fallback edge spells these characters in bytes
    ending_at: list[list[Edge]] = field(default_factory=list)

    def viterbi(self) -> tuple[list[Edge], float]:
        """The best path and its score. Ties go to the path whose last piece starts earliest."""
        n = len(self.string)
        best = [-math.inf] * (n + 1)
        best[0] = 0.0
        back: list[Edge | None] = [None] * (n + 1)
        for end in range(1, n + 1):
            for edge in self.ending_at[end]:
                score = best[edge.start] + edge.score
                if score > best[end]:
                    best[end], back[end] = score, edge
        return self._backtrack(back), best[n]

    def _backtrack(self, back: Sequence[Edge | None]) -> list[Edge]:
        path = []
        position = len(self.string)
        while position > 0:
            edge = back[position]
            assert edge is not None
            path.append(edge)
            position = edge.start
        return path[::-1]

    def forward(self, theta: float = 1.0) -> list[float]:
        """log Σ exp(theta · score) over all paths from 0 to each position (forward filtering)."""
        n = len(self.string)
        alpha = [-math.inf] * (n + 1)
        alpha[0] = 0.0
        for end in range(1, n + 1):
            alpha[end] = _logsumexp([alpha[edge.start] + theta * edge.score for edge in self.ending_at[end]])
        return alpha

    def sample(self, theta: float, rng: random.Random) -> list[Edge]:
        """A path drawn with probability ∝ exp(theta · score): forward filtering, backward sampling."""
        alpha = self.forward(theta)
        path = []
        position = len(self.string)
        while position > 0:
            edges = self.ending_at[position]
            weights = [math.exp(alpha[edge.start] + theta * edge.score - alpha[position]) for edge in edges]
            edge = rng.choices(edges, weights)[0]
            path.append(edge)
            position = edge.start
        return path[::-1]

    def nbest(self, n: int) -> list[tuple[list[Edge], float]]:
        """The `n` best paths, best first (k-best Viterbi: the top n partial paths at every position)."""
        length = len(self.string)
        # top[i]: up to n entries (score, edge, rank of the partial path at edge.start), best first
        top: list[list[tuple[float, Edge | None, int]]] = [[] for _ in range(length + 1)]
        top[0] = [(0.0, None, 0)]
        for end in range(1, length + 1):
            candidates = [
                (score + edge.score, edge, rank)
                for edge in self.ending_at[end]
                for rank, (score, _, _) in enumerate(top[edge.start])
            ]
            candidates.sort(key=lambda candidate: -candidate[0])
            top[end] = candidates[:n]
        results = []
        for score, edge, rank in top[length]:
            path = []
            while edge is not None:
                path.append(edge)
                _, edge, rank = top[edge.start][rank]
            results.append((path[::-1], score))
        return results

    def log_partition(self) -> float:
        return self.forward()[len(self.string)]


class Unigram(Tokenizer):
    """A Unigram tokenizer over `vocab`: (piece, score, kind) in id order; kind: normal, byte or special."""

    name = "unigram"

    def __init__(
        self,
        vocab: Sequence[tuple[str, float, str]],
        *,
        unk_token: str = "<unk>",
        bos_token: str | None = "<s>",
        eos_token: str | None = "</s>",
        add_dummy_prefix: bool = True,
    ) -> None:
        self.vocab = [(str(piece), float(score), kind) for piece, score, kind in vocab]
        kinds = {kind for _, _, kind in self.vocab}
        if not kinds <= {"normal", "byte", "special"}:
            raise GlossaError(f"unknown piece kinds {sorted(kinds - {'normal', 'byte', 'special'})}")
        self.add_dummy_prefix = add_dummy_prefix
        self.special_tokens = {piece: i for i, (piece, _, kind) in enumerate(self.vocab) if kind == "special"}
        self._pieces = {piece: i for i, (piece, _, kind) in enumerate(self.vocab) if kind == "normal"}
        if not self._pieces:
            raise GlossaError("a Unigram vocabulary needs at least one normal piece")
        bytes_by_token = {piece: i for i, (piece, _, kind) in enumerate(self.vocab) if kind == "byte"}
        self._byte_ids = [bytes_by_token.get(byte_token(value)) for value in range(256)]
        self.byte_fallback = all(token_id is not None for token_id in self._byte_ids)
        if bytes_by_token and not self.byte_fallback:
            raise GlossaError("byte fallback needs all 256 byte tokens <0x00> … <0xFF>")
        self._byte_value = {token_id: value for value, token_id in enumerate(self._byte_ids)}
        self.unk_id = self.special_tokens.get(unk_token)
        if self.unk_id is None and not self.byte_fallback:
            raise GlossaError(f"without byte fallback the vocabulary needs its unknown token {unk_token!r}")
        self.unk_token = unk_token
        self.bos_id = self.special_tokens.get(bos_token) if bos_token else None
        self.eos_id = self.special_tokens.get(eos_token) if eos_token else None
        self._scores = [score for _, score, _ in self.vocab]
        self._longest_piece = max(len(piece) for piece in self._pieces)
        self.fallback_score = min(self._scores[i] for i in self._pieces.values()) - UNK_PENALTY
        self.inner_space = any(SPACE in piece[1:] for piece in self._pieces)
        self._chunk_cache: dict[str, tuple[int, ...]] = {}
        self._special_patterns: dict[frozenset[str], regex.Pattern[str] | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. for worker processes) without the caches, which rebuild themselves."""
        return {**self.__dict__, "_chunk_cache": {}, "_special_patterns": {}}

    # --- saving and loading -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "add_dummy_prefix": self.add_dummy_prefix,
            "unk_token": self.unk_token,
            "bos_token": self.vocab[self.bos_id][0] if self.bos_id is not None else None,
            "eos_token": self.vocab[self.eos_id][0] if self.eos_id is not None else None,
            "vocab": [[piece, score, kind] for piece, score, kind in self.vocab],
        }

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(Path(path), json.dumps(self.to_json(), ensure_ascii=False, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Unigram:
        path = Path(path)
        if not path.is_file():
            raise GlossaError(f"Unigram tokenizer file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise GlossaError(f"{path} is not valid JSON: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise GlossaError(f'{path} is not a glossa Unigram tokenizer (no "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise GlossaError(
                f"{path} has Unigram format version {data.get('version')!r}; this glossa reads {VERSION}"
            )
        vocab = data.get("vocab")
        if not isinstance(vocab, list) or not all(
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and isinstance(entry[1], int | float)
            and isinstance(entry[2], str)
            for entry in vocab
        ):
            raise GlossaError(f"{path}: 'vocab' must be a list of [piece, score, kind] entries")
        return cls(
            [tuple(entry) for entry in vocab],
            unk_token=data.get("unk_token", "<unk>"),
            bos_token=data.get("bos_token"),
            eos_token=data.get("eos_token"),
            add_dummy_prefix=bool(data.get("add_dummy_prefix", True)),
        )

    # --- the Tokenizer interface --------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(
        self, text: str, *, allowed_special: AllowedSpecial = "none", add_special_tokens: bool = False
    ) -> list[int]:
        ids = [self.bos_id] if add_special_tokens and self.bos_id is not None else []
        for segment, special_id, dummy in self._segments(text, allowed_special):
            if special_id is not None:
                ids.append(special_id)
            else:
                ids.extend(self._encode_text(segment, dummy))
        return ids

    def tokenize(self, text: str, *, allowed_special: AllowedSpecial = "none") -> list[str]:
        """The token strings of `text` ('▁the', 'ing', '<0xC3>')."""
        return [self.vocab[token_id][0] for token_id in self.encode(text, allowed_special=allowed_special)]

    def encode_sample(
        self,
        text: str,
        *,
        alpha: float = 0.1,
        nbest_size: int = -1,
        rng: random.Random | None = None,
        allowed_special: AllowedSpecial = "none",
    ) -> list[int]:
        """One random segmentation (subword regularisation), as SentencePiece's `SampleEncode`.

        `nbest_size` -1 (or 0): sample over all segmentations with probability ∝ P^alpha; `nbest_size` n > 1:
        sample among the n best with probability ∝ P^alpha. `rng` (e.g. `random.Random(seed)`) makes it
        reproducible."""
        rng = rng or random.Random()
        ids = []
        for segment, special_id, dummy in self._segments(text, allowed_special):
            if special_id is not None:
                ids.append(special_id)
                continue
            lattice = self.lattice(segment, dummy)
            if nbest_size in (-1, 0):
                path = lattice.sample(alpha, rng)
            elif nbest_size == 1:
                path = lattice.viterbi()[0]
            else:
                candidates = lattice.nbest(nbest_size)
                top = max(score for _, score in candidates)
                weights = [math.exp(alpha * (score - top)) for _, score in candidates]
                path = rng.choices(candidates, weights)[0][0]
            ids.extend(self._path_ids(lattice, path))
        return ids

    def encode_nbest(self, text: str, n: int) -> list[tuple[list[int], float]]:
        """The `n` best segmentations of `text` (no special tokens) with their scores, best first."""
        lattice = self.lattice(text, self.add_dummy_prefix)
        return [(self._path_ids(lattice, path), score) for path, score in lattice.nbest(n)]

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        output: list[str] = []
        run = bytearray()  # the bytes of the text since the start or the last special token

        def flush() -> None:
            text = run.decode("utf-8", errors="replace")
            output.append(text[1:] if self.add_dummy_prefix and text.startswith(" ") else text)
            run.clear()

        for token_id in ids:
            piece, _, kind = self._entry(token_id)
            if kind == "byte":
                run.append(self._byte_value[token_id])
            elif kind == "normal":
                run.extend(piece.replace(SPACE, " ").encode("utf-8"))
            elif token_id == self.unk_id:
                run.extend(UNK_SURFACE.encode("utf-8"))
            else:
                flush()
                if not skip_special_tokens:
                    output.append(piece)
        flush()
        return "".join(output)

    def id_to_token(self, token_id: int) -> str:
        return self._entry(token_id)[0]

    def token_to_id(self, token: str) -> int | None:
        for table in (self._pieces, self.special_tokens):
            if token in table:
                return table[token]
        if token.startswith("<0x") and self.byte_fallback:
            for value, token_id in enumerate(self._byte_ids):
                if byte_token(value) == token:
                    return token_id
        return None

    def token_bytes(self, token_id: int) -> bytes:
        piece, _, kind = self._entry(token_id)
        if kind == "byte":
            return bytes([self._byte_value[token_id]])
        if kind == "normal":
            return piece.replace(SPACE, " ").encode("utf-8")
        return b""

    def score(self, token_id: int) -> float:
        return self._entry(token_id)[1]

    # --- the algorithm --------------------------------------------------------------------------------------

    def lattice(self, text: str, dummy_prefix: bool | None = None) -> Lattice:
        """The lattice of `text` (plain text, not yet in ▁-form)."""
        if dummy_prefix is None:
            dummy_prefix = self.add_dummy_prefix
        original = " " + text if dummy_prefix and text else text
        string = original.replace(" ", SPACE)
        n = len(string)
        lattice = Lattice(string, original, [[] for _ in range(n + 1)])
        # A literal ▁ in the text is spelled in bytes: no piece may cover it.
        barriers = [i for i, char in enumerate(original) if char == SPACE] if SPACE in original else []
        barrier_index = 0
        for start in range(n):
            while barrier_index < len(barriers) and barriers[barrier_index] < start:
                barrier_index += 1
            next_barrier = barriers[barrier_index] if barrier_index < len(barriers) else n
            covered = False
            for end in range(start + 1, min(n, start + self._longest_piece, next_barrier) + 1):
                piece_id = self._pieces.get(string[start:end])
                if piece_id is not None:
                    lattice.ending_at[end].append(Edge(start, end, piece_id, self._scores[piece_id]))
                    covered = covered or end == start + 1
            if not covered:
                lattice.ending_at[start + 1].append(Edge(start, start + 1, _FALLBACK, self.fallback_score))
        return lattice

    def _encode_text(self, text: str, dummy_prefix: bool) -> list[int]:
        if self.inner_space:
            lattice = self.lattice(text, dummy_prefix)
            return self._path_ids(lattice, lattice.viterbi()[0])
        ids: list[int] = []
        spaced = " " + text if dummy_prefix and text else text
        for chunk in _CHUNK.findall(spaced):
            chunk_ids = self._chunk_cache.get(chunk)
            if chunk_ids is None:
                if len(self._chunk_cache) >= _CACHE_LIMIT:
                    self._chunk_cache.clear()
                lattice = self.lattice(chunk, dummy_prefix=False)
                chunk_ids = self._chunk_cache[chunk] = tuple(self._path_ids(lattice, lattice.viterbi()[0]))
            ids.extend(chunk_ids)
        return ids

    def _path_ids(self, lattice: Lattice, path: Sequence[Edge]) -> list[int]:
        ids: list[int] = []
        for edge in path:
            if edge.piece_id != _FALLBACK:
                ids.append(edge.piece_id)
            elif self.byte_fallback:
                character = lattice.original[edge.start : edge.end]
                ids.extend(self._byte_ids[value] for value in character.encode("utf-8", "surrogatepass"))
            else:
                assert self.unk_id is not None
                ids.append(self.unk_id)
        return ids

    def _segments(self, text: str, allowed_special: AllowedSpecial) -> Iterator[tuple[str, int | None, bool]]:
        """`text` split at allowed specials: (text, None, dummy prefix?) and (token, id, False) parts."""
        pattern = self._special_pattern(allowed_special)
        if pattern is None:
            yield text, None, self.add_dummy_prefix
            return
        start = 0
        for match in pattern.finditer(text):
            if match.start() > start:
                yield text[start : match.start()], None, self.add_dummy_prefix
            yield match.group(), self.special_tokens[match.group()], False
            start = match.end()
        if start < len(text):
            yield text[start:], None, self.add_dummy_prefix

    def _special_pattern(self, allowed_special: AllowedSpecial) -> regex.Pattern[str] | None:
        if allowed_special == "none":
            return None
        allowed = frozenset(self.special_tokens if allowed_special == "all" else allowed_special)
        if allowed not in self._special_patterns:
            unknown = allowed - set(self.special_tokens)
            if unknown:
                raise GlossaError(f"not special tokens of this tokenizer: {sorted(unknown)}")
            longest_first = sorted(allowed, key=len, reverse=True)
            self._special_patterns[allowed] = (
                regex.compile("|".join(map(regex.escape, longest_first))) if longest_first else None
            )
        return self._special_patterns[allowed]

    def _entry(self, token_id: int) -> tuple[str, float, str]:
        if not 0 <= token_id < len(self.vocab):
            raise GlossaError(
                f"token id {token_id} is not in this vocabulary (ids go from 0 to {len(self.vocab) - 1})"
            )
        return self.vocab[token_id]


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values, default=-math.inf)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(value - top) for value in values))

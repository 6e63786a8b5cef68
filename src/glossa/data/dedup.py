"""Data deduplication (§13): exact duplicates by hash, near duplicates by MinHash with LSH banding.

**Exact.** Two documents are the same if their normalised text (whitespace runs collapsed, case folded) has
the same BLAKE2b-128 hash; the first one seen is kept.

**Near.** A document is a set of shingles (runs of `shingle_size` consecutive words). The Jaccard similarity
of two sets, |A∩B| / |A∪B|, equals the probability that a random hash function takes its minimum over
A∪B at an element of A∩B; so a signature of `num_perm` such minima estimates Jaccard as the fraction of
positions where two signatures agree (Broder 1997). Comparing every pair is quadratic; LSH banding cuts the
signature into `bands` bands of r = num_perm / bands rows and calls two documents candidates when any band
matches exactly, which happens with probability 1 - (1 - J^r)^bands: an S-curve whose steep part sits near
(1/bands)^(1/r). The defaults (128 permutations, 32 bands of 4) put it near 0.42, well below the 0.8
threshold, so true near-duplicates are almost never missed (P = 0.9999 at J = 0.8); each candidate is then
verified by its estimated Jaccard ≥ `threshold`, which keeps precision.

Everything is vectorised with numpy: the words of a document are found and hashed on its UTF-8 bytes with a
polynomial rolling hash (mod 2^64, prefix sums and inverse powers, no Python loop per word), shingle hashes
combine `shingle_size` word hashes, and the permutations are multiply-shift hashes
h_i(x) = (a_i·x + b_i) >> 32 applied to a block of shingles at once.

Memory: the index keeps, per kept document, its signature (num_perm × 4 bytes) and one 8-byte key per band,
in sorted numpy arrays merged in batches (`SortedKeys`), not Python dicts: 200,000 documents cost about
100 MB with the defaults instead of several GB.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

_P = np.uint64(0x100000001B3)  # odd, so invertible modulo 2^64
_P_INVERSE = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_Q = np.uint64(0x9E3779B97F4A7C15)
_SPACE_TABLE = np.zeros(256, dtype=bool)
_SPACE_TABLE[list(b" \t\n\r\x0b\x0c")] = True
_BLOCK = 4096  # shingles per block when applying the permutations
_MAX_POWERS = 1 << 16


def exact_key(text: str) -> bytes:
    """BLAKE2b-128 of the text with whitespace collapsed and case folded."""
    return hashlib.blake2b(" ".join(text.split()).casefold().encode("utf-8"), digest_size=16).digest()


def exact_key_int(text: str) -> int:
    """The first 8 bytes of `exact_key` as an int: what the exact deduplicator stores (the chance of any
    collision among a million documents is about 1 in 37 million)."""
    return int.from_bytes(exact_key(text)[:8], "little")


def _powers(base: np.uint64, count: int) -> np.ndarray:
    powers = np.empty(count, dtype=np.uint64)
    powers[0] = 1
    if count > 1:
        powers[1:] = base
        np.cumprod(powers, out=powers)
    return powers


_FORWARD = _powers(_P, _MAX_POWERS)
_INVERSE = _powers(_P_INVERSE, _MAX_POWERS)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def word_hashes(text: str) -> np.ndarray:
    """A 64-bit hash of each whitespace-separated, case-folded word, in order."""
    return words_with_lengths(text)[0]


def words_with_lengths(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash, UTF-8 length) of each whitespace-separated, case-folded word, in order."""
    data = np.frombuffer(text.casefold().encode("utf-8"), dtype=np.uint8)
    if data.size == 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    space = _SPACE_TABLE[data]
    word = ~space
    edges = np.diff(np.concatenate(([False], word, [False])).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    hashes = np.empty(len(starts), dtype=np.uint64)
    # Positions restart every _MAX_POWERS bytes so the power tables stay small; a word's hash depends only
    # on its own bytes, because it is normalised by the inverse power at its start.
    for block_start in range(0, data.size, _MAX_POWERS):
        block = data[block_start : block_start + _MAX_POWERS].astype(np.uint64)
        prefix = np.concatenate(([np.uint64(0)], np.cumsum(block * _FORWARD[: block.size], dtype=np.uint64)))
        inside = (starts >= block_start) & (starts < block_start + _MAX_POWERS)
        if not inside.any():
            continue
        local_start = starts[inside] - block_start
        local_end = ends[inside] - block_start
        spill = local_end > block.size
        if spill.any():  # a word running across the block boundary: hash it directly
            for index in np.flatnonzero(inside)[spill]:
                piece = data[starts[index] : ends[index]].astype(np.uint64)
                value = np.cumsum(piece * _FORWARD[: piece.size], dtype=np.uint64)[-1]
                hashes[index] = value
            local_end = np.minimum(local_end, block.size)
        values = (prefix[local_end] - prefix[local_start]) * _INVERSE[local_start]
        targets = np.flatnonzero(inside)
        hashes[targets[~spill]] = values[~spill]
    return mix64(hashes + (ends - starts).astype(np.uint64)), ends - starts


def ngram_hashes(words: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit hash of each run of `n` consecutive word hashes (empty if there are fewer words)."""
    count = words.size - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    combined = np.zeros(count, dtype=np.uint64)
    for offset in range(n):
        combined = combined * _Q + words[offset : offset + count]
    return mix64(combined)


def shingle_hashes(text: str, shingle_size: int) -> np.ndarray:
    """32-bit hashes of the document's word shingles (the whole text as one shingle if it is shorter)."""
    words = word_hashes(text)
    if words.size == 0:
        return np.empty(0, dtype=np.uint64)
    return np.unique(ngram_hashes(words, min(shingle_size, words.size)) >> np.uint64(32))


@dataclass(frozen=True)
class MinHasher:
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1

    def __post_init__(self) -> None:
        generator = np.random.default_rng(self.seed)
        high = np.iinfo(np.uint64).max
        a = generator.integers(1, high, size=self.num_perm, dtype=np.uint64, endpoint=True) | np.uint64(1)
        b = generator.integers(0, high, size=self.num_perm, dtype=np.uint64, endpoint=True)
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_b", b)

    def signature(self, text: str) -> np.ndarray:
        """The MinHash signature (num_perm uint32 minima) of the text's shingle set."""
        shingles = shingle_hashes(text, self.shingle_size)
        signature = np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        a, b = self._a, self._b  # type: ignore[attr-defined]
        for start in range(0, shingles.size, _BLOCK):
            block = shingles[start : start + _BLOCK, None]
            hashed = ((block * a + b) >> np.uint64(32)).astype(np.uint32)
            np.minimum(signature, hashed.min(axis=0), out=signature)
        return signature


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> float:
    return float(np.mean(left == right))


def jaccard(left: set, right: set) -> float:
    union = len(left | right)
    return len(left & right) / union if union else 1.0


class SortedKeys:
    """A set of uint64 keys, each mapped to an int64 value, in sorted arrays plus a small pending dict."""

    def __init__(self, merge_every: int = 65536):
        self.keys = np.empty(0, dtype=np.uint64)
        self.values = np.empty(0, dtype=np.int64)
        self.pending: dict[int, int] = {}
        self.merge_every = merge_every

    def get(self, key: int) -> int | None:
        found = self.pending.get(key)
        if found is not None:
            return found
        index = int(np.searchsorted(self.keys, np.uint64(key)))
        if index < self.keys.size and int(self.keys[index]) == key:
            return int(self.values[index])
        return None

    def put(self, key: int, value: int) -> None:
        """Map `key` to `value` unless it is already mapped (the first value stays)."""
        if self.get(key) is not None:
            return
        self.pending[key] = value
        if len(self.pending) >= self.merge_every:
            self._merge()

    def _merge(self) -> None:
        """Insert the sorted pending keys into the sorted arrays: linear time, no re-sort of the whole."""
        keys = np.fromiter(self.pending.keys(), dtype=np.uint64, count=len(self.pending))
        values = np.fromiter(self.pending.values(), dtype=np.int64, count=len(self.pending))
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        positions = np.searchsorted(self.keys, keys)
        self.keys = np.insert(self.keys, positions, keys)
        self.values = np.insert(self.values, positions, values)
        self.pending = {}

    def __len__(self) -> int:
        return self.keys.size + len(self.pending)


class ExactDeduplicator:
    def __init__(self) -> None:
        self.seen = SortedKeys()

    def is_duplicate(self, text: str) -> bool:
        return self.is_duplicate_key(exact_key_int(text))

    def is_duplicate_key(self, key: int) -> bool:
        """Whether `key` (`exact_key_int` of a text) was seen before; remembers it."""
        if self.seen.get(key) is not None:
            return True
        self.seen.put(key, 0)
        return False


class NearDeduplicator:
    """Streaming MinHash-LSH: `check(text)` says whether a document is a near duplicate, else indexes it."""

    def __init__(
        self,
        num_perm: int = 128,
        bands: int = 32,
        threshold: float = 0.8,
        shingle_size: int = 5,
        seed: int = 1,
    ):
        if num_perm % bands:
            raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
        self.hasher = MinHasher(num_perm, shingle_size, seed)
        self.bands, self.rows, self.threshold = bands, num_perm // bands, threshold
        self.index = SortedKeys()
        self.signatures: list[np.ndarray] = []  # one array per merged chunk, for bounded overhead
        self._chunk: list[np.ndarray] = []
        self._chunk_size = 4096

    def _band_keys(self, signature: np.ndarray) -> list[int]:
        bands = signature.reshape(self.bands, self.rows).astype(np.uint64)
        keys = np.full(self.bands, 0x84222325, dtype=np.uint64) + np.arange(self.bands, dtype=np.uint64)
        for row in range(self.rows):
            keys = mix64(keys * _Q + bands[:, row])
        return keys.tolist()

    def _signature_of(self, index: int) -> np.ndarray:
        chunk, offset = divmod(index, self._chunk_size)
        if chunk < len(self.signatures):
            return self.signatures[chunk][offset]
        return self._chunk[offset]

    def check(self, text: str) -> tuple[bool, float]:
        """(is a near duplicate of an earlier kept document, the best estimated Jaccard among candidates)."""
        return self.check_signature(self.hasher.signature(text))

    def check_signature(self, signature: np.ndarray) -> tuple[bool, float]:
        """`check` for a signature computed elsewhere (`self.hasher.signature`, in a worker process)."""
        keys = self._band_keys(signature)
        best = 0.0
        tried: set[int] = set()
        for key in keys:
            candidate = self.index.get(key)
            if candidate is None or candidate in tried:
                continue
            tried.add(candidate)
            best = max(best, estimated_jaccard(signature, self._signature_of(candidate)))
            if best >= self.threshold:
                return True, best
        number = len(self.signatures) * self._chunk_size + len(self._chunk)
        self._chunk.append(signature)
        if len(self._chunk) == self._chunk_size:
            self.signatures.append(np.stack(self._chunk))
            self._chunk = []
        for key in keys:
            self.index.put(key, number)
        return False, best

"""Data cleaning (§13): one canonical form for every text, and boilerplate lines removed.

`clean_text` applies, in order:
- Unicode NFC, so "é" as one code point and as e + combining acute become the same string (and the same
  tokens, and the same dedup hash);
- control characters removed (category Cc except tab and newline; a stray NUL or bell is never text),
  and \\r\\n / \\r turned into \\n;
- whitespace normalised: exotic spaces (NBSP, thin space, …) become a space, runs of spaces and tabs inside
  a line become one space, trailing spaces go, three or more newlines become two, leading and trailing blank
  lines go. Line breaks are kept: they carry verse, code and lists.

Boilerplate is a line repeated across many documents ("Subscribe to our newsletter", a site footer). Counting
every distinct line of a large corpus exactly would need memory that grows with the corpus, so
`LineDocumentCounts` counts in a count-min sketch (fixed size, `depth` rows of `width` counters; it can only
over-count, by at most a small fraction of the total with high probability). A first pass over the corpus
counts, for each line of at least `min_chars` characters, the documents it appears in; the second removes
lines seen in at least `min_fraction` of the documents (and at least `min_documents` of them). Short lines
("Exit.", a speaker's name) are never boilerplate by this rule: they are content that repeats.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from glossa.data.dedup import mix64

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_TRAILING = re.compile(r" +$", re.MULTILINE)
_LEADING = re.compile(r"^ +(?=\n|$)", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")


def clean_text(text: str) -> str:
    """NFC, no control characters, normalised whitespace (see the module docstring)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("", text)
    text = _LEADING.sub("", text)
    text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n ")


def line_key(line: str) -> str:
    return " ".join(line.split()).casefold()


class LineDocumentCounts:
    """A count-min sketch of how many documents each (normalised) line appears in.

    Lines are hashed with Python's own `hash` (fast, cached on the string) and spread over the sketch's rows
    with numpy; `hash` of a string differs between interpreter runs, which is fine because both passes of a
    prepare run happen in one process, and the sketch is never saved."""

    def __init__(self, width: int = 1 << 20, depth: int = 4, min_chars: int = 20):
        self.width, self.depth, self.min_chars = width, depth, min_chars
        self.table = np.zeros((depth, width), dtype=np.uint32)
        self.documents = 0
        self._salts = (np.arange(1, depth + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))[:, None]

    def _cells(self, keys: list[str]) -> np.ndarray:
        """(depth, len(keys)) cell indices."""
        hashes = np.array([hash(key) for key in keys], dtype=np.int64).view(np.uint64)
        return (mix64(hashes[None, :] ^ self._salts) % np.uint64(self.width)).astype(np.int64)

    def keys(self, text: str) -> list[str]:
        return list({key for key in map(line_key, text.split("\n")) if len(key) >= self.min_chars})

    def add_document(self, text: str) -> None:
        self.documents += 1
        keys = self.keys(text)
        if keys:
            cells = self._cells(keys)
            for row in range(self.depth):
                np.add.at(self.table[row], cells[row], 1)

    def counts(self, keys: list[str]) -> np.ndarray:
        if not keys:
            return np.empty(0, dtype=np.uint32)
        cells = self._cells(keys)
        return self.table[np.arange(self.depth)[:, None], cells].min(axis=0)

    def count(self, key: str) -> int:
        return int(self.counts([key])[0])


def remove_boilerplate(
    text: str, counts: LineDocumentCounts, min_fraction: float, min_documents: int
) -> tuple[str, int]:
    """`text` without its boilerplate lines, and how many lines went."""
    threshold = max(min_documents, min_fraction * counts.documents)
    lines = text.split("\n")
    keys = [line_key(line) for line in lines]
    candidates = [index for index, key in enumerate(keys) if len(key) >= counts.min_chars]
    found = counts.counts([keys[index] for index in candidates])
    boilerplate = {
        index for index, count in zip(candidates, found.tolist(), strict=True) if count >= threshold
    }
    if not boilerplate:
        return text, 0
    kept = [line for index, line in enumerate(lines) if index not in boilerplate]
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip("\n "), len(boilerplate)

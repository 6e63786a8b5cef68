"""Zipf's law (§6): a word's frequency falls roughly as a power of its frequency rank, f(r) ∝ r^-s, s ≈ 1.

`zipf_fit` fits s by least squares on log f against log r over the top ranks, where the law holds best; the
tail of words seen once or twice bends away from the line and is left out by default.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import regex

_WORD = regex.compile(r"\p{L}+(?:['’]\p{L}+)*")


def word_frequencies(text: str) -> list[tuple[str, int]]:
    """Lower-cased words (letters, with inner apostrophes) and their counts, most frequent first."""
    counts = Counter(match.group().lower() for match in _WORD.finditer(text))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class ZipfFit:
    exponent: float  # s in f(r) ∝ r^-s
    intercept: float  # log10 of the fitted frequency at rank 1
    r_squared: float
    ranks_used: int


def zipf_fit(frequencies: list[int], max_rank: int = 1000) -> ZipfFit:
    """Fit log10 f = intercept - s·log10 r over ranks 1..max_rank of a descending frequency list."""
    if len(frequencies) < 2:
        raise ValueError("a Zipf fit needs at least two distinct words")
    counts = np.asarray(frequencies[:max_rank], dtype=np.float64)
    log_rank = np.log10(np.arange(1, len(counts) + 1))
    log_freq = np.log10(counts)
    slope, intercept = np.polyfit(log_rank, log_freq, 1)
    residual = log_freq - (slope * log_rank + intercept)
    total = log_freq - log_freq.mean()
    r_squared = 1.0 - float(residual @ residual) / float(total @ total) if total.any() else 1.0
    return ZipfFit(
        exponent=float(-slope), intercept=float(intercept), r_squared=r_squared, ranks_used=len(counts)
    )

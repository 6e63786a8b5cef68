"""Entropy and its per-unit rates (§4): how many bits a source needs per symbol, character or byte.

`entropy_bits` is Shannon's H = -Σ p·log2 p of an empirical distribution. A zero-order (unigram) model that
codes every code point with its own frequency spends exactly H bits per character; dividing the same total
by the UTF-8 byte count gives bits per byte, the vocabulary-independent rate that lets a character model, a
byte model and a tokenizer-based model be compared on one scale (the speedrun's later stages report their
models' bits per byte against this baseline).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


def entropy_bits(counts: Iterable[int]) -> float:
    """Shannon entropy in bits of the distribution given by non-negative counts."""
    values = [count for count in counts if count > 0]
    total = sum(values)
    if total == 0:
        return 0.0
    return -sum(count / total * math.log2(count / total) for count in values)


@dataclass(frozen=True)
class EntropyRates:
    bits_per_character: float  # unigram code-point model, bits per code point
    bits_per_byte: float  # the same total cost spread over the UTF-8 bytes
    byte_entropy_bits: float  # unigram model over the bytes themselves, bits per byte
    code_points: int
    utf8_bytes: int
    distinct_characters: int


def unigram_entropy_rates(text: str) -> EntropyRates:
    """Zero-order entropy of `text` per character and per byte, and the entropy of its byte distribution."""
    data = text.encode("utf-8")
    per_character = entropy_bits(Counter(text).values())
    return EntropyRates(
        bits_per_character=per_character,
        bits_per_byte=per_character * len(text) / len(data) if data else 0.0,
        byte_entropy_bits=entropy_bits(Counter(data).values()),
        code_points=len(text),
        utf8_bytes=len(data),
        distinct_characters=len(set(text)),
    )

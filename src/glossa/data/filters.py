"""Data filtering (§13): quality heuristics that drop a document with a named reason.

The checks follow Gopher's (Rae et al. 2021, appendix A) rules, each with its own threshold in
`FilterConfig` (0 or a bound that cannot bind turns a check off):

- length: words within [min_words, max_words];
- mean word length within [min_mean_word_length, max_mean_word_length];
- symbol-to-word ratio: ("#" + "..." + "…") per word at most `max_symbol_word_ratio`;
- bullets and ellipses: the fraction of lines that start with a bullet / end with an ellipsis;
- alphabetic words: the fraction of words with at least one letter, at least `min_alpha_word_fraction`;
- stop words: at least `min_stop_words` of the, be, to, of, and, that, have, with (English text);
- repetition: the fraction of lines that duplicate an earlier line, and the fraction of characters in
  duplicated lines; the fraction of characters covered by the most frequent 2-, 3-, 4-gram; the fraction of
  characters in duplicated 5- to 10-grams (words hashed and n-grams counted with numpy, as in
  glossa.data.dedup; characters counted as UTF-8 bytes of case-folded words);
- language: `py3langid`'s guess among `languages` with at least `min_language_score` (off when `languages`
  is empty; the import is lazy, and a missing package is a one-line error).

The defaults are Gopher's except where Shakespeare — the embedded corpus — breaks them: plays name a speaker
on a line of its own before every speech, so duplicate-line fractions run high in perfectly good text; the
line-duplication bounds are loosened to let verse drama through while still catching a page that is the
same few lines over and over.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glossa.data.dedup import ngram_hashes, words_with_lengths
from glossa.errors import GlossaError

_WORD = re.compile(r"\S+")
_ALPHA_WORD = re.compile(r"\S*[^\W\d_]\S*")
_BULLETS = ("•", "●", "○", "▪", "‣", "-", "*", "·")
STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})


@dataclass(frozen=True)
class FilterConfig:
    min_words: int = 50
    max_words: int = 10_000_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_line_fraction: float = 0.9
    max_ellipsis_line_fraction: float = 0.3
    min_alpha_word_fraction: float = 0.8
    min_stop_words: int = 2
    max_duplicate_line_fraction: float = 0.6
    max_duplicate_line_char_fraction: float = 0.4
    max_top_ngram_char_fraction: dict[str, float] = field(
        default_factory=lambda: {"2": 0.20, "3": 0.18, "4": 0.16}
    )
    max_duplicate_ngram_char_fraction: dict[str, float] = field(
        default_factory=lambda: {"5": 0.15, "6": 0.14, "7": 0.13, "8": 0.12, "9": 0.11, "10": 0.10}
    )
    languages: list[str] = field(default_factory=list)
    min_language_score: float = 0.5


def _duplicate_lines(lines: list[str]) -> tuple[float, float]:
    seen: set[str] = set()
    duplicate_lines = duplicate_chars = 0
    for line in lines:
        if line in seen:
            duplicate_lines += 1
            duplicate_chars += len(line)
        seen.add(line)
    total_chars = sum(len(line) for line in lines) or 1
    return duplicate_lines / max(len(lines), 1), duplicate_chars / total_chars


def _top_ngram_fraction(words: np.ndarray, lengths: np.ndarray, n: int, total: int) -> float:
    """Share of the characters covered by the most frequent n-gram (Gopher counts each occurrence)."""
    grams = ngram_hashes(words, n)
    if grams.size == 0:
        return 0.0
    _, first, counts = np.unique(grams, return_index=True, return_counts=True)
    top = int(np.argmax(counts))
    if counts[top] < 2:
        return 0.0
    start = int(first[top])
    return int(counts[top]) * int(lengths[start : start + n].sum()) / total


def _duplicate_ngram_fraction(words: np.ndarray, lengths: np.ndarray, n: int, total: int) -> float:
    """Share of the characters inside n-grams that occurred earlier in the document."""
    grams = ngram_hashes(words, n)
    if grams.size == 0:
        return 0.0
    _, first = np.unique(grams, return_index=True)
    repeated = np.ones(grams.size, dtype=bool)
    repeated[first] = False
    starts = np.flatnonzero(repeated)
    if starts.size == 0:
        return 0.0
    delta = np.zeros(words.size + 1, dtype=np.int64)
    np.add.at(delta, starts, 1)
    np.add.at(delta, starts + n, -1)
    covered = np.cumsum(delta[:-1]) > 0
    return int(lengths[covered].sum()) / total


def quality_reason(text: str, config: FilterConfig) -> str | None:
    """Why `text` fails the quality filters (a short reason), or None when it passes."""
    words = _WORD.findall(text)
    count = len(words)
    if count < config.min_words:
        return "too short"
    if count > config.max_words:
        return "too long"
    mean_length = sum(map(len, words)) / count
    if not config.min_mean_word_length <= mean_length <= config.max_mean_word_length:
        return "mean word length"
    symbols = text.count("#") + text.count("...") + text.count("…")
    if symbols / count > config.max_symbol_word_ratio:
        return "symbol-to-word ratio"
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if lines:
        if sum(line.startswith(_BULLETS) for line in lines) / len(lines) > config.max_bullet_line_fraction:
            return "bullet lines"
        if (
            sum(line.endswith(("...", "…")) for line in lines) / len(lines)
            > config.max_ellipsis_line_fraction
        ):
            return "ellipsis lines"
    if len(_ALPHA_WORD.findall(text)) / count < config.min_alpha_word_fraction:
        return "non-alphabetic words"
    if config.min_stop_words and len(STOP_WORDS.intersection(text.lower().split())) < config.min_stop_words:
        return "too few stop words"
    line_fraction, line_char_fraction = _duplicate_lines(lines)
    if line_fraction > config.max_duplicate_line_fraction:
        return "duplicate lines"
    if line_char_fraction > config.max_duplicate_line_char_fraction:
        return "duplicate line characters"
    hashes, lengths = words_with_lengths(text)
    total = max(int(lengths.sum()), 1)
    for n, bound in config.max_top_ngram_char_fraction.items():
        if _top_ngram_fraction(hashes, lengths, int(n), total) > bound:
            return f"top {n}-gram repetition"
    for n, bound in config.max_duplicate_ngram_char_fraction.items():
        if _duplicate_ngram_fraction(hashes, lengths, int(n), total) > bound:
            return f"duplicate {n}-grams"
    return None


@functools.cache
def _language_identifier() -> Any:
    """py3langid's identifier with normalised probabilities (its module-level `classify` returns raw log
    scores, which a probability threshold cannot use); loaded once per process (~1 s)."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise GlossaError(
            "language detection needs py3langid; install it (pip install py3langid) or set languages = []"
        ) from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


LANGUAGE_SAMPLE_CHARS = 2_000


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) from py3langid, on the first 2,000 characters: langid's character
    n-gram scores settle long before that, and its cost is linear in the text (it was a third of the whole
    pipeline's time on 3 KB documents when it read 10,000)."""
    language, probability = _language_identifier().classify(text[:LANGUAGE_SAMPLE_CHARS])
    return str(language), float(probability)


def language_available() -> bool:
    try:
        _language_identifier()
    except GlossaError:
        return False
    return True


def language_reason(language: str, score: float, config: FilterConfig) -> str | None:
    if not config.languages:
        return None
    if language not in config.languages:
        return f"language {language}"
    if score < config.min_language_score:
        return "language score"
    return None

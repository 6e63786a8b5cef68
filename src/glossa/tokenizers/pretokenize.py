"""Regex pre-tokenizers: cut text into pieces ("words") before BPE, so no token ever spans two pieces.

BPE merges only inside a piece, so the pre-tokenizer decides what a token can be: without it "dog." and
"dog!" would learn separate tokens for the same word. The byte-level family uses three splitting rules:

- `gpt2`: GPT-2's pattern (openai/gpt-2 encoder.py, and HF `ByteLevel(use_regex=True)`): English
  contractions, a letter run with at most one leading space, a digit run likewise, a run of other symbols
  likewise, and whitespace, where a whitespace run leaves its last space to the word that follows.
- `llama3`: the GPT-4 / cl100k pattern that Llama-3 uses: case-insensitive contractions, digits in groups of
  at most three, a letter run may take one leading non-letter (" the", "(the"), newlines kept apart.
- `smollm`: what SmolLM2 declares (`tokenizer.ggml.pre = "smollm"`; HF `Sequence([Digits(individual_digits=
  True), ByteLevel(use_regex=True)])`): every digit is its own piece, then the GPT-2 pattern runs on the text
  between digits.

    >>> pretokenize("gpt2", "Hello world's 2024!")
    ['Hello', ' world', "'s", ' 2024', '!']
    >>> pretokenize("smollm", "in 2024")
    ['in', ' ', '2', '0', '2', '4']

`smollm` is two passes by definition, but one regex does the same: the GPT-2 pattern with `\\p{N}` matching a
single digit and never taking a leading space, and a whitespace run that may also stop right before a digit
(where the text between digits ends). `smollm_two_pass` is the definition; tests check the two agree.

Patterns need `\\p{L}`/`\\p{N}`, so this uses the `regex` module (the standard `re` has no Unicode classes).
"""

from __future__ import annotations

from functools import cache

import regex

from glossa.errors import GlossaError

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
SMOLLM_DIGIT_PATTERN = r"\p{N}"
SMOLLM_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+"""

PATTERNS: dict[str, str] = {"gpt2": GPT2_PATTERN, "llama3": LLAMA3_PATTERN, "smollm": SMOLLM_PATTERN}
PRETOKENIZER_NAMES: tuple[str, ...] = tuple(PATTERNS)


def check_pretokenizer(name: str) -> str:
    """`name` if it is a known pre-tokenizer, else a GlossaError that lists the known ones."""
    if name not in PATTERNS:
        known = ", ".join(PRETOKENIZER_NAMES)
        raise GlossaError(f"unknown pre-tokenizer {name!r}: use one of {known}")
    return name


@cache
def compiled_pattern(name: str) -> regex.Pattern[str]:
    """The compiled regex of a pre-tokenizer; `findall` on it gives the pieces."""
    return regex.compile(PATTERNS[check_pretokenizer(name)])


def pretokenize(name: str, text: str) -> list[str]:
    """The pieces of `text` under pre-tokenizer `name`; they concatenate back to `text`."""
    return compiled_pattern(name).findall(text)


def smollm_two_pass(text: str) -> list[str]:
    """The `smollm` rule as declared: isolate each digit, then the GPT-2 pattern on what lies between."""
    gpt2 = compiled_pattern("gpt2")
    pieces: list[str] = []
    for span in regex.split(f"({SMOLLM_DIGIT_PATTERN})", text):
        pieces.extend(gpt2.findall(span))  # a lone digit is one GPT-2 piece
    return pieces

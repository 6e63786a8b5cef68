"""BERT's basic tokenizer: clean the text, split CJK ideographs, fold case and accents, split into words.

This is what runs before WordPiece sees anything, in the order HF `tokenizers` runs it (its `BertNormalizer`
followed by its `BertPreTokenizer`, which is what `BertTokenizerFast` uses):

1. clean text — drop NUL, U+FFFD and every "other" character (Unicode category C*: controls, format
   characters such as the zero-width joiner, unassigned code points), except tab, LF and CR, which count as
   whitespace; then every whitespace character (the Unicode White_Space property) becomes a plain space;
2. CJK ideographs (BERT's block list below; not Hangul, not kana) get a space on each side, so each is a word;
3. strip accents — NFD, then drop nonspacing marks (category Mn): "café" → "cafe". `strip_accents=None`
   means "do it when lower-casing", as the original BERT does;
4. lower-case, one code point at a time (so a final Σ becomes σ, not ς, as Rust's `char::to_lowercase`);
5. split on whitespace (dropped) and on punctuation (kept, one character per word). BERT's punctuation is
   Unicode category P* plus all non-alphanumeric printable ASCII (33–47, 58–64, 91–96, 123–126), so `$`, `+`,
   `^` and `~` are punctuation here although Unicode calls them symbols.

    >>> BertNormalizer().split_words("Héllo, 世界!  naïve")
    ['hello', ',', '世', '界', '!', 'naive']

Everything is done with whole-string regular expressions (the `regex` module knows Unicode properties),
and pure-ASCII text takes a shortcut: a loop over characters in Python would cost more than WordPiece itself.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

# The CJK Unified Ideographs blocks BERT treats as "Chinese characters" (its `_is_chinese_char`).
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),  # HF tokenizers starts this block at 0x2B920; Google's BERT at 0x2B820
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
ASCII_PUNCTUATION = r"!-/:-@\[-`{-~"

_CJK_CLASS = "".join(f"\\U{low:08X}-\\U{high:08X}" for low, high in CJK_RANGES)
_CJK = regex.compile(f"([{_CJK_CLASS}])")
_REMOVED = regex.compile(r"[\x00\ufffd\p{Cc}\p{Cf}\p{Co}\p{Cs}--[\t\n\r]]", regex.V1)
_WHITESPACE = regex.compile(r"\p{White_Space}")
_NONSPACING_MARK = regex.compile(r"\p{Mn}")
_WORD_OR_PUNCTUATION = regex.compile(
    f"[\\p{{P}}{ASCII_PUNCTUATION}]|[^\\p{{White_Space}}\\p{{P}}{ASCII_PUNCTUATION}]+"
)
_ASCII_REMOVED = regex.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_WHITESPACE = regex.compile(r"[\t\n\r]")


@dataclass(frozen=True)
class BertNormalizer:
    """HF's `BertNormalizer` + `BertPreTokenizer`, with the same four switches."""

    clean_text: bool = True
    handle_chinese_chars: bool = True
    strip_accents: bool | None = None  # None: strip exactly when lower-casing
    lowercase: bool = True

    def normalize(self, text: str) -> str:
        """Steps 1–4: the text WordPiece's words are cut from."""
        if text.isascii():
            if self.clean_text:
                text = _ASCII_WHITESPACE.sub(" ", _ASCII_REMOVED.sub("", text))
            return text.lower() if self.lowercase else text
        if self.clean_text:
            text = _WHITESPACE.sub(" ", _REMOVED.sub("", text))
        if self.handle_chinese_chars:
            text = _CJK.sub(r" \1 ", text)
        if self.lowercase if self.strip_accents is None else self.strip_accents:
            text = _NONSPACING_MARK.sub("", unicodedata.normalize("NFD", text))
        if self.lowercase:
            text = "".join(map(str.lower, text)) if "Σ" in text else text.lower()
        return text

    def pre_tokenize(self, normalized: str) -> list[str]:
        """Step 5: words and single punctuation characters, whitespace dropped."""
        return _WORD_OR_PUNCTUATION.findall(normalized)

    def split_words(self, text: str) -> list[str]:
        return self.pre_tokenize(self.normalize(text))

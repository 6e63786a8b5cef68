"""WordPiece, BERT's tokenizer: greedy longest-match-first over each word, with `##` marking continuations.

BERT's basic tokenizer (`bert_normalize.py`) cuts the text into words; each word is then covered left to
right by the longest vocabulary entry that fits, the first piece as is and every later piece with the
continuation prefix:

    "unaffable" → un ##aff ##able        (if those three are in the vocabulary)

If some position of a word cannot be covered by any entry — or the word is longer than
`max_input_chars_per_word` (100) characters — the whole word becomes `[UNK]`, not just the bad part. That is
the model's one lossy step, and why `decode(encode(x))` gives back BERT's view of `x` (lower-cased, accents
stripped, punctuation spaced out) rather than `x`.

Special tokens (`[CLS]`, `[SEP]`, `[MASK]`, …) typed in user text are plain text unless `allowed_special`
lets them through; then they are matched first, leftmost-longest on the raw text, as HF matches its added
tokens, and the text between them is tokenized as usual. `add_special_tokens=True` wraps the ids in
`[CLS] … [SEP]`.

Decoding is BERT's (HF's WordPiece decoder): tokens joined with spaces, a `##` piece glued to the one before,
and a space before `.` `?` `!` `,` removed.

    >>> tokenizer = WordPiece.from_tokenizer_json("…/all-MiniLM-L6-v2/tokenizer.json")
    >>> tokenizer.encode("Hello, world!", add_special_tokens=True)
    [101, 7592, 1010, 2088, 999, 102]

Words repeat (Zipf), so the ids of each distinct word are cached; that makes a pure-Python WordPiece cost
about as much as its normaliser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import regex

from glossa.atomic import atomic_write_text
from glossa.errors import GlossaError
from glossa.tokenizers.base import AllowedSpecial, Tokenizer
from glossa.tokenizers.bert_normalize import BertNormalizer

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_DECODE_CLEANUP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" do not", " don't"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)
_CACHE_LIMIT = 500_000


class WordPiece(Tokenizer):
    """A BERT-style WordPiece tokenizer over `vocab` (token string -> id)."""

    name = "wordpiece"

    def __init__(
        self,
        vocab: Mapping[str, int],
        *,
        normalizer: BertNormalizer | None = None,
        unk_token: str = "[UNK]",
        continuing_subword_prefix: str = "##",
        max_input_chars_per_word: int = 100,
        special_tokens: Iterable[str] | None = None,
        cls_token: str | None = "[CLS]",
        sep_token: str | None = "[SEP]",
        pad_token: str | None = "[PAD]",
        always_matched_tokens: Sequence[str] = (),
        decode_cleanup: bool = True,
    ) -> None:
        if unk_token not in vocab:
            raise GlossaError(f"the vocabulary has no unknown token {unk_token!r}; add it or pass unk_token=")
        self.vocab = dict(vocab)
        self._id_to_token = {token_id: token for token, token_id in self.vocab.items()}
        self.normalizer = normalizer or BertNormalizer()
        self.unk_token = unk_token
        self.continuing_subword_prefix = continuing_subword_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.decode_cleanup = decode_cleanup
        if special_tokens is None:
            special_tokens = [token for token in BERT_SPECIAL_TOKENS if token in self.vocab]
        special_tokens = list(special_tokens)
        missing = [token for token in [*special_tokens, *always_matched_tokens] if token not in self.vocab]
        if missing:
            raise GlossaError(f"special tokens missing from the vocabulary: {missing}")
        self.special_tokens = {token: self.vocab[token] for token in special_tokens}
        self.unk_id = self.vocab[unk_token]
        self.cls_id = self.vocab.get(cls_token) if cls_token else None
        self.sep_id = self.vocab.get(sep_token) if sep_token else None
        self.pad_id = self.vocab.get(pad_token) if pad_token else None
        self.bos_id, self.eos_id = self.cls_id, self.sep_id
        self._always_matched = {token: self.vocab[token] for token in always_matched_tokens}
        self._special_ids = frozenset(self.special_tokens.values())
        self._longest_entry = max(len(token) for token in self.vocab)
        self._word_cache: dict[str, tuple[int, ...]] = {}
        self._special_pattern_cache: dict[frozenset[str], regex.Pattern[str] | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. for worker processes) without the caches, which rebuild themselves."""
        return {**self.__dict__, "_word_cache": {}, "_special_pattern_cache": {}}

    # --- loading and saving -------------------------------------------------------------------------------

    @classmethod
    def from_vocab_txt(
        cls,
        path: str | Path,
        *,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        handle_chinese_chars: bool = True,
        clean_text: bool = True,
        unk_token: str = "[UNK]",
        max_input_chars_per_word: int = 100,
    ) -> WordPiece:
        """BERT's `vocab.txt`: one token per line, the line number is the id."""
        path = Path(path)
        if not path.is_file():
            raise GlossaError(f"vocabulary file not found: {path} (pass the vocab.txt of a BERT-style model)")
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError as error:
            raise GlossaError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
        if lines and lines[-1] == "":
            lines.pop()
        vocab = {line.removesuffix("\r"): index for index, line in enumerate(lines)}
        if not vocab:
            raise GlossaError(f"{path} is empty; a vocab.txt lists one token per line")
        if unk_token not in vocab:
            raise GlossaError(
                f"{path} has no {unk_token} line; a WordPiece vocabulary needs its unknown token"
            )
        normalizer = BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase)
        return cls(
            vocab,
            normalizer=normalizer,
            unk_token=unk_token,
            max_input_chars_per_word=max_input_chars_per_word,
        )

    @classmethod
    def from_tokenizer_json(cls, path: str | Path) -> WordPiece:
        """An HF `tokenizer.json` whose model is WordPiece (BERT, MiniLM, …)."""
        path = Path(path)
        if not path.is_file():
            raise GlossaError(f"tokenizer file not found: {path}")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise GlossaError(f"{path} is not valid JSON: {error}") from None
        return cls.from_tokenizer_config(config, source=str(path))

    @classmethod
    def from_tokenizer_config(cls, config: Mapping[str, Any], *, source: str = "tokenizer.json") -> WordPiece:
        model = config.get("model") if isinstance(config, Mapping) else None
        if not isinstance(model, Mapping):
            raise GlossaError(f"{source} has no 'model' object; is it an HF tokenizer.json?")
        if model.get("type") != "WordPiece":
            raise GlossaError(
                f"{source} holds a {model.get('type') or 'untyped'} model, not WordPiece; "
                "load it with the tokenizer for that algorithm"
            )
        vocab = model.get("vocab")
        if not isinstance(vocab, Mapping) or not vocab:
            raise GlossaError(f"{source}: the WordPiece model has no vocabulary")
        vocab = dict(vocab)
        special, always_matched = [], []
        for added in config.get("added_tokens") or []:
            vocab.setdefault(added["content"], added["id"])
            (special if added.get("special", False) else always_matched).append(added["content"])
        cls_token, sep_token = _template_cls_sep(config.get("post_processor"), source)
        decoder = config.get("decoder") or {}
        return cls(
            vocab,
            normalizer=_normalizer_from_config(config.get("normalizer"), source),
            unk_token=model.get("unk_token", "[UNK]"),
            continuing_subword_prefix=model.get("continuing_subword_prefix") or "##",
            max_input_chars_per_word=int(model.get("max_input_chars_per_word", 100)),
            special_tokens=special,
            cls_token=cls_token,
            sep_token=sep_token,
            always_matched_tokens=always_matched,
            decode_cleanup=bool(decoder.get("cleanup", True)),
        )

    def save_vocab_txt(self, path: str | Path) -> Path:
        """Write `vocab.txt` (one token per line, in id order)."""
        tokens = [self._id_to_token.get(token_id, "") for token_id in range(self.vocab_size)]
        return atomic_write_text(Path(path), "".join(f"{token}\n" for token in tokens))

    def to_tokenizer_config(self) -> dict[str, Any]:
        """This tokenizer as an HF `tokenizer.json` object (HF `tokenizers` loads it)."""
        normalizer = self.normalizer
        cls_token = self._id_to_token.get(self.cls_id) if self.cls_id is not None else None
        sep_token = self._id_to_token.get(self.sep_id) if self.sep_id is not None else None
        post_processor = None
        if cls_token and sep_token:
            post_processor = {
                "type": "TemplateProcessing",
                "single": [
                    {"SpecialToken": {"id": cls_token, "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": sep_token, "type_id": 0}},
                ],
                "pair": [
                    {"SpecialToken": {"id": cls_token, "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": sep_token, "type_id": 0}},
                    {"Sequence": {"id": "B", "type_id": 1}},
                    {"SpecialToken": {"id": sep_token, "type_id": 1}},
                ],
                "special_tokens": {
                    token: {"id": token, "ids": [self.vocab[token]], "tokens": [token]}
                    for token in (cls_token, sep_token)
                },
            }
        added = [(token, token_id, True) for token, token_id in self.special_tokens.items()]
        added += [(token, token_id, False) for token, token_id in self._always_matched.items()]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {
                    "id": token_id,
                    "content": token,
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": False,
                    "special": special,
                }
                for token, token_id, special in sorted(added, key=lambda entry: entry[1])
            ],
            "normalizer": {
                "type": "BertNormalizer",
                "clean_text": normalizer.clean_text,
                "handle_chinese_chars": normalizer.handle_chinese_chars,
                "strip_accents": normalizer.strip_accents,
                "lowercase": normalizer.lowercase,
            },
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": post_processor,
            "decoder": {
                "type": "WordPiece",
                "prefix": self.continuing_subword_prefix,
                "cleanup": self.decode_cleanup,
            },
            "model": {
                "type": "WordPiece",
                "unk_token": self.unk_token,
                "continuing_subword_prefix": self.continuing_subword_prefix,
                "max_input_chars_per_word": self.max_input_chars_per_word,
                "vocab": dict(sorted(self.vocab.items(), key=lambda item: item[1])),
            },
        }

    def save_tokenizer_json(self, path: str | Path) -> Path:
        text = json.dumps(self.to_tokenizer_config(), ensure_ascii=False, indent=2)
        return atomic_write_text(Path(path), text + "\n")

    # --- the Tokenizer interface --------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return max(self._id_to_token) + 1

    def encode(
        self, text: str, *, allowed_special: AllowedSpecial = "none", add_special_tokens: bool = False
    ) -> list[int]:
        ids: list[int] = []
        for segment, special_id in self._split_on_special(text, allowed_special):
            if special_id is not None:
                ids.append(special_id)
                continue
            for word in self.normalizer.split_words(segment):
                ids.extend(self._word_ids(word))
        if add_special_tokens:
            if self.cls_id is None or self.sep_id is None:
                raise GlossaError(
                    "this vocabulary has no [CLS]/[SEP] tokens; encode without add_special_tokens"
                )
            ids = [self.cls_id, *ids, self.sep_id]
        return ids

    def tokenize(self, text: str, *, allowed_special: AllowedSpecial = "none") -> list[str]:
        """The token strings of `text` ('hello', '##ing', '[UNK]')."""
        return [
            self._id_to_token[token_id] for token_id in self.encode(text, allowed_special=allowed_special)
        ]

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        tokens = [self.id_to_token(token_id) for token_id in ids]
        if skip_special_tokens:
            tokens = [
                token
                for token, token_id in zip(tokens, ids, strict=True)
                if token_id not in self._special_ids
            ]
        prefix = self.continuing_subword_prefix
        pieces = []
        for position, token in enumerate(tokens):
            if position > 0:
                token = token.replace(prefix, "", 1) if token.startswith(prefix) else f" {token}"
            if self.decode_cleanup:
                for dirty, clean in _DECODE_CLEANUP:
                    token = token.replace(dirty, clean)
            pieces.append(token)
        return "".join(pieces)

    def id_to_token(self, token_id: int) -> str:
        token = self._id_to_token.get(token_id)
        if token is None:
            raise GlossaError(
                f"token id {token_id} is not in this vocabulary (ids go from 0 to {self.vocab_size - 1})"
            )
        return token

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def token_bytes(self, token_id: int) -> bytes:
        if token_id in self._special_ids:
            return b""
        return self.id_to_token(token_id).removeprefix(self.continuing_subword_prefix).encode("utf-8")

    # --- the algorithm --------------------------------------------------------------------------------------

    def word_pieces(self, word: str) -> list[str]:
        """Greedy longest-match-first cover of one word, as token strings."""
        return [self._id_to_token[token_id] for token_id in self._word_ids(word)]

    def _word_ids(self, word: str) -> tuple[int, ...]:
        ids = self._word_cache.get(word)
        if ids is None:
            if len(self._word_cache) >= _CACHE_LIMIT:
                self._word_cache.clear()
            ids = self._word_cache[word] = self._longest_match_first(word)
        return ids

    def _longest_match_first(self, word: str) -> tuple[int, ...]:
        if len(word) > self.max_input_chars_per_word:
            return (self.unk_id,)
        ids = []
        start = 0
        while start < len(word):
            prefix = self.continuing_subword_prefix if start > 0 else ""
            for end in range(min(len(word), start + self._longest_entry), start, -1):
                token_id = self.vocab.get(prefix + word[start:end])
                if token_id is not None:
                    ids.append(token_id)
                    start = end
                    break
            else:
                return (self.unk_id,)
        return tuple(ids)

    def _split_on_special(self, text: str, allowed_special: AllowedSpecial) -> list[tuple[str, int | None]]:
        """`text` cut into (plain text, None) and (token, id) segments, matching the allowed specials."""
        allowed = self._allowed(allowed_special)
        pattern = self._special_pattern_cache.get(allowed)
        if allowed not in self._special_pattern_cache:
            matchable = sorted(allowed | set(self._always_matched), key=len, reverse=True)
            pattern = regex.compile("|".join(map(regex.escape, matchable))) if matchable else None
            self._special_pattern_cache[allowed] = pattern
        if pattern is None:
            return [(text, None)]
        segments: list[tuple[str, int | None]] = []
        start = 0
        for match in pattern.finditer(text):
            if match.start() > start:
                segments.append((text[start : match.start()], None))
            segments.append((match.group(), self.vocab[match.group()]))
            start = match.end()
        if start < len(text):
            segments.append((text[start:], None))
        return segments

    def _allowed(self, allowed_special: AllowedSpecial) -> frozenset[str]:
        if allowed_special == "none":
            return frozenset()
        if allowed_special == "all":
            return frozenset(self.special_tokens)
        unknown = set(allowed_special) - set(self.special_tokens)
        if unknown:
            raise GlossaError(f"not special tokens of this tokenizer: {sorted(unknown)}")
        return frozenset(allowed_special)


def _normalizer_from_config(config: Mapping[str, Any] | None, source: str) -> BertNormalizer:
    if config is None:
        return BertNormalizer(
            clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False
        )
    if config.get("type") != "BertNormalizer":
        raise GlossaError(
            f"{source}: normalizer {config.get('type')!r} is not supported (only BertNormalizer)"
        )
    return BertNormalizer(
        clean_text=bool(config.get("clean_text", True)),
        handle_chinese_chars=bool(config.get("handle_chinese_chars", True)),
        strip_accents=config.get("strip_accents"),
        lowercase=bool(config.get("lowercase", True)),
    )


def _template_cls_sep(config: Mapping[str, Any] | None, source: str) -> tuple[str | None, str | None]:
    """The tokens the post-processor puts before and after a single sequence."""
    if not config:
        return None, None
    kind = config.get("type")
    if kind == "BertProcessing":
        return config["cls"][0], config["sep"][0]
    if kind == "TemplateProcessing":
        single = config.get("single") or []
        before, after = [], []
        seen_sequence = False
        for item in single:
            if "Sequence" in item:
                seen_sequence = True
            elif "SpecialToken" in item:
                (after if seen_sequence else before).append(item["SpecialToken"]["id"])
        if len(before) > 1 or len(after) > 1:
            raise GlossaError(
                f"{source}: a post-processor template with several tokens per side is not supported"
            )
        return (before[0] if before else None), (after[0] if after else None)
    raise GlossaError(
        f"{source}: post-processor {kind!r} is not supported (BertProcessing or TemplateProcessing)"
    )

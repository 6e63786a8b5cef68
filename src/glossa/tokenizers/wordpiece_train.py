"""Training a WordPiece vocabulary: merge the pair that is most frequent *relative to its parts*.

WordPiece (Schuster & Nakajima 2012; BERT) builds its vocabulary bottom-up like BPE, with one difference: BPE
merges the most frequent adjacent pair, WordPiece the pair with the highest

    score(a, b) = count(ab) / (count(a) · count(b))

— the pair whose parts occur together much more often than chance would say (a pointwise mutual
information, without the log). Frequent parts like `##e` are not merged just for being frequent.

1. Split the corpus into words with BERT's basic tokenizer (the `BertNormalizer` the tokenizer will use) and
   count them. Words longer than `max_input_chars_per_word` are skipped: WordPiece never looks inside them.
2. Each word starts as characters, the first as is, the rest with the continuation prefix:
   "hugs" → h ##u ##g ##s. Every such symbol is in the vocabulary, so training data never meets `[UNK]`.
3. Repeatedly merge the best pair everywhere it occurs (h ##u → hu, ##g ##s → ##gs) and add the merged
   token, until the vocabulary (special tokens included) has `vocab_size` entries or no pair is left.

Ties are broken deterministically: higher score, then higher pair count, then the pair's two strings in
lexicographic order. The vocabulary is the special tokens, then the characters (word-initial ones sorted,
then `##` ones sorted), then the merged tokens in the order they were learned.

A heap of candidate pairs with lazy deletion keeps each step cheap: whenever a pair's count or one of its
parts' counts changes, a fresh entry is pushed; a popped entry that no longer matches the live counts is
stale and is dropped.

    >>> tokenizer = train_wordpiece(["hug pug pun bun hugs"], vocab_size=20)
    >>> tokenizer.tokenize("hugs bug")
    ['hugs', 'b', '##ug']

HF `tokenizers` also has a `WordPieceTrainer`, but it learns its vocabulary with BPE's frequency rule and only
renames the pieces with `##`; its vocabularies are not expected to equal these.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from glossa.errors import GlossaError
from glossa.tokenizers.bert_normalize import BertNormalizer
from glossa.tokenizers.wordpiece import BERT_SPECIAL_TOKENS, WordPiece

Pair = tuple[str, str]


def count_words(
    texts: Iterable[str], normalizer: BertNormalizer, max_input_chars_per_word: int
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(normalizer.split_words(text))
    return Counter({word: n for word, n in counts.items() if len(word) <= max_input_chars_per_word})


def initial_symbols(word: str, prefix: str) -> list[str]:
    return [word[0], *(prefix + char for char in word[1:])]


def learn_wordpiece_vocabulary(
    word_counts: dict[str, int],
    vocab_size: int,
    *,
    special_tokens: Sequence[str] = BERT_SPECIAL_TOKENS,
    prefix: str = "##",
    progress: bool = False,
) -> list[str]:
    """The vocabulary, in id order, learned from `word_counts` (word -> how often it occurs)."""
    words = [initial_symbols(word, prefix) for word in word_counts]
    frequencies = list(word_counts.values())
    alphabet = {symbol for symbol_list in words for symbol in symbol_list}
    alphabet_order = sorted(alphabet, key=lambda symbol: (symbol.startswith(prefix), symbol))
    vocabulary = list(dict.fromkeys([*special_tokens, *alphabet_order]))
    if vocab_size < len(vocabulary):
        raise GlossaError(
            f"vocab_size {vocab_size} is too small: {len(special_tokens)} special tokens and "
            f"{len(alphabet)} characters (word-initial and {prefix}-continuation) need {len(vocabulary)}"
        )
    known = set(vocabulary)

    symbol_count: Counter[str] = Counter()
    pair_count: Counter[Pair] = Counter()
    pair_words: defaultdict[Pair, set[int]] = defaultdict(set)
    pairs_with: defaultdict[str, set[Pair]] = defaultdict(set)

    def account(index: int, sign: int) -> set[Pair]:
        """Add (sign=1) or remove (sign=-1) word `index`'s symbols and pairs; return the pairs touched."""
        symbols, frequency = words[index], frequencies[index]
        for symbol in symbols:
            symbol_count[symbol] += sign * frequency
        touched = set(itertools.pairwise(symbols))
        for pair in itertools.pairwise(symbols):
            pair_count[pair] += sign * frequency
        for pair in touched:
            if sign > 0:
                pair_words[pair].add(index)
                pairs_with[pair[0]].add(pair)
                pairs_with[pair[1]].add(pair)
            else:
                pair_words[pair].discard(index)
        return touched

    for index in range(len(words)):
        account(index, +1)

    def score(pair: Pair) -> float:
        return pair_count[pair] / (symbol_count[pair[0]] * symbol_count[pair[1]])

    heap = [(-score(pair), -count, *pair) for pair, count in pair_count.items()]
    heapq.heapify(heap)

    bar = _progress_bar(vocab_size - len(vocabulary)) if progress else None
    try:
        while len(vocabulary) < vocab_size and heap:
            negative_score, negative_count, a, b = heapq.heappop(heap)
            pair = (a, b)
            count = pair_count.get(pair, 0)
            if count <= 0 or count != -negative_count or score(pair) != -negative_score:
                continue  # stale: a fresher entry for this pair is (or was) in the heap
            merged = a + b.removeprefix(prefix)
            touched: set[Pair] = set()
            for index in sorted(pair_words[pair]):
                touched |= account(index, -1)
                words[index] = _merge_in(words[index], a, b, merged)
                touched |= account(index, +1)
            for stale in touched | pairs_with[a] | pairs_with[b] | pairs_with[merged]:
                if pair_count.get(stale, 0) > 0:
                    heapq.heappush(heap, (-score(stale), -pair_count[stale], *stale))
            if merged not in known:
                known.add(merged)
                vocabulary.append(merged)
                if bar is not None:
                    bar[0].advance(bar[1])
    finally:
        if bar is not None:
            bar[0].stop()
    return vocabulary


def train_wordpiece(
    texts: Iterable[str],
    vocab_size: int,
    *,
    normalizer: BertNormalizer | None = None,
    special_tokens: Sequence[str] = BERT_SPECIAL_TOKENS,
    continuing_subword_prefix: str = "##",
    max_input_chars_per_word: int = 100,
    progress: bool = False,
) -> WordPiece:
    """A `WordPiece` tokenizer trained on `texts` (an iterable of documents or lines)."""
    normalizer = normalizer or BertNormalizer()
    if "[UNK]" not in special_tokens:
        raise GlossaError("special_tokens must include [UNK], the token for words WordPiece cannot cover")
    word_counts = count_words(texts, normalizer, max_input_chars_per_word)
    if not word_counts:
        raise GlossaError("the training corpus has no words; give it some text")
    vocabulary = learn_wordpiece_vocabulary(
        word_counts,
        vocab_size,
        special_tokens=special_tokens,
        prefix=continuing_subword_prefix,
        progress=progress,
    )
    return WordPiece(
        {token: token_id for token_id, token in enumerate(vocabulary)},
        normalizer=normalizer,
        continuing_subword_prefix=continuing_subword_prefix,
        max_input_chars_per_word=max_input_chars_per_word,
        special_tokens=list(special_tokens),
    )


def _merge_in(symbols: list[str], a: str, b: str, merged: str) -> list[str]:
    """`symbols` with every non-overlapping (a, b), left to right, replaced by `merged`."""
    result = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            result.append(merged)
            i += 2
        else:
            result.append(symbols[i])
            i += 1
    return result


def _progress_bar(total: int):
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task("WordPiece merges", total=total)
    bar.start()
    return bar, task

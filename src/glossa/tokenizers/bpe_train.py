"""Training byte-level BPE: learn merges from a corpus, most frequent adjacent pair first.

    >>> bpe = train_bpe(["low lower lowest"] * 10, 260, progress=False)
    >>> bpe.merges
    [('l', 'o'), ('lo', 'w'), ('Ġ', 'low'), ('Ġlow', 'e')]

The algorithm (Sennrich et al. 2016 on bytes, as GPT-2 trained it), made incremental:

1. Pre-tokenize every text and count the distinct pieces ("words"). Real text repeats, so a 5 MB corpus is a
   few tens of thousands of words with counts, and all later work is on those.
2. Each word starts as its bytes, written in the byte-level alphabet (256 symbols; nothing is ever unknown).
3. Count every adjacent pair, weighted by word count, and remember which words hold each pair.
4. Repeatedly take the most frequent pair, add the joined symbol to the vocabulary, and rewrite only the
   words that hold the pair. Each rewrite changes the counts of the pairs around it (in "a b c", merging
   b c removes "a b" and adds "a bc"); those changes are applied to the counts, and the pairs that appeared
   are pushed on a max-heap. Counts that went down are not removed from the heap: an entry whose count is
   stale is corrected and pushed back when it reaches the top (lazy invalidation).

This is the algorithm of HF `tokenizers`' BpeTrainer, followed closely enough that the merges are the same
(tests/tokenizers/test_bpe_train.py checks it on tiny Shakespeare). In particular:

- **Ids**: special tokens first (ids 0..k-1, in the order given), then the 256 byte symbols sorted by their
  character's code point ('!' is id k, 'Ā'..'Ń' come after 'ÿ'), then each merged token in the order learned.
- **Ties**: the highest count wins; between equal counts, the pair whose (left id, right id) is smallest.
  Because of the id order above this is not byte order: a pair of printable characters beats one with a
  space ('Ġ' is U+0120, so sorts after 'ÿ').
- **Stopping**: when the vocabulary (specials and bytes included) reaches `vocab_size`, when no pair is left,
  or when the best pair occurs fewer than `min_frequency` times.
- **Words** are rewritten left to right without overlap ("a a a" with "a a" gives "aa a").
- **A merged token that already exists** (e.g. "abc" from "ab"+"c" and later from "a"+"bc") keeps its id,
  so the vocabulary does not grow; its pairs get a second heap entry that lists only the words where they
  newly appeared, and a pair may then be learned twice: the merge list keeps its last rank, as HF does.
- Special tokens in the training text are ordinary text, as they are to HF's trainer.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from glossa.errors import GlossaError
from glossa.tokenizers.bpe import ByteLevelBPE
from glossa.tokenizers.bytelevel import bytes_to_unicode, to_byte_level
from glossa.tokenizers.pretokenize import check_pretokenizer, compiled_pattern

# A pair of symbol ids (left, right) is the single int left * _PAIR + right, which sorts like the pair.
_PAIR = 1 << 32
_PROGRESS_EVERY = 64


def count_words(texts: Iterable[str], pretokenizer: str) -> Counter[str]:
    """How often each pre-token occurs in `texts`."""
    pattern = compiled_pattern(check_pretokenizer(pretokenizer))
    counts: Counter[str] = Counter()
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise GlossaError(f"training texts must be strings; text {index} is a {type(text).__name__}")
        counts.update(pattern.findall(text))
    return counts


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    *,
    pretokenizer: str = "gpt2",
    min_frequency: int = 2,
    special_tokens: Sequence[str] = (),
    progress: bool = True,
) -> ByteLevelBPE:
    """Learn a byte-level BPE with `vocab_size` ids (special tokens and the 256 bytes included)."""
    check_pretokenizer(pretokenizer)
    specials = list(dict.fromkeys(special_tokens))
    if vocab_size < 256 + len(specials):
        raise GlossaError(
            f"vocab_size {vocab_size} is too small: byte-level BPE needs 256 byte tokens plus "
            f"{len(specials)} special tokens, so at least {256 + len(specials)}"
        )
    word_counts = count_words(texts, pretokenizer)
    if not word_counts:
        raise GlossaError("the training corpus is empty: give at least one non-empty text")

    id_to_word = [*specials]
    for char in sorted(bytes_to_unicode().values()):
        if char not in id_to_word:
            id_to_word.append(char)
    merges = _learn_merges(word_counts, id_to_word, vocab_size, min_frequency, progress)
    merge_strings = [(id_to_word[left], id_to_word[right]) for left, right in merges]
    last_rank_only = list(reversed(dict.fromkeys(reversed(merge_strings))))
    return ByteLevelBPE(
        id_to_word,
        last_rank_only,
        pretokenizer=pretokenizer,
        special_tokens={text: token_id for token_id, text in enumerate(specials)},
    )


def _learn_merges(
    word_counts: Counter[str],
    id_to_word: list[str],
    vocab_size: int,
    min_frequency: int,
    progress: bool,
) -> list[tuple[int, int]]:
    """The merge loop. Extends `id_to_word` with the learned tokens; returns the merged (left, right) ids."""
    word_to_id = {word: token_id for token_id, word in enumerate(id_to_word)}
    words: list[list[int]] = []
    counts: list[int] = []
    for word, count in word_counts.items():
        words.append([word_to_id[char] for char in to_byte_level(word)])
        counts.append(count)

    pair_counts: dict[int, int] = {}
    where: dict[int, set[int]] = {}
    for index, symbols in enumerate(words):
        count = counts[index]
        for left, right in pairwise(symbols):
            pair = left * _PAIR + right
            pair_counts[pair] = pair_counts.get(pair, 0) + count
            where.setdefault(pair, set()).add(index)
    heap: list[tuple[int, int, int, set[int]]] = []
    pushed = 0
    for pair, holders in where.items():
        heap.append((-pair_counts[pair], pair, pushed, holders))
        pushed += 1
    heapq.heapify(heap)

    merges: list[tuple[int, int]] = []
    with Progress(
        TextColumn("training BPE"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task("merges", total=max(vocab_size - len(id_to_word), 0))
        while len(id_to_word) < vocab_size and heap:
            negative_count, pair, _, holders = heapq.heappop(heap)
            count = pair_counts[pair]
            if -negative_count != count:
                heapq.heappush(heap, (-count, pair, pushed, holders))
                pushed += 1
                continue
            if count < 1 or count < min_frequency:
                break
            left, right = divmod(pair, _PAIR)
            new_token = id_to_word[left] + id_to_word[right]
            new_id = word_to_id.get(new_token)
            if new_id is None:
                new_id = len(id_to_word)
                id_to_word.append(new_token)
                word_to_id[new_token] = new_id
            merges.append((left, right))
            appeared = _merge_in_words(words, counts, holders, left, right, new_id, pair_counts)
            for new_pair, new_holders in appeared.items():
                if pair_counts[new_pair] > 0:
                    heapq.heappush(heap, (-pair_counts[new_pair], new_pair, pushed, new_holders))
                    pushed += 1
            if len(merges) % _PROGRESS_EVERY == 0:
                bar.update(task, completed=len(merges))
        bar.update(task, completed=len(merges))
    return merges


def _merge_in_words(
    words: list[list[int]],
    counts: list[int],
    holders: set[int],
    left: int,
    right: int,
    new_id: int,
    pair_counts: dict[int, int],
) -> dict[int, set[int]]:
    """Rewrite `left right` as `new_id` in the words listed in `holders` (left to right, no overlap), update
    `pair_counts` for the pairs around each rewrite, and return the pairs that gained occurrences with the
    words they gained them in."""
    appeared: dict[int, set[int]] = {}
    new_left = new_id * _PAIR
    for index in holders:
        symbols = words[index]
        if left not in symbols:
            continue
        count = counts[index]
        at = -1
        while True:
            try:
                at = symbols.index(left, at + 1)
            except ValueError:
                break
            if at + 1 >= len(symbols) or symbols[at + 1] != right:
                continue
            if at > 0:
                before = symbols[at - 1]
                gone = before * _PAIR + left
                pair_counts[gone] -= count
                made = before * _PAIR + new_id
                pair_counts[made] = pair_counts.get(made, 0) + count
                appeared.setdefault(made, set()).add(index)
            symbols[at : at + 2] = (new_id,)
            if at + 1 < len(symbols):
                after = symbols[at + 1]
                gone = right * _PAIR + after
                pair_counts[gone] -= count
                made = new_left + after
                pair_counts[made] = pair_counts.get(made, 0) + count
                appeared.setdefault(made, set()).add(index)
    return appeared

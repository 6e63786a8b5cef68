"""Training a Unigram tokenizer with EM, as SentencePiece's `unigram_model_trainer` does.

The model: each piece p has a probability P(p); a segmentation's probability is the product of its pieces';
a text's likelihood sums that over all its segmentations. Training looks for the vocabulary of the wanted size
and the probabilities that make the corpus most likely, top-down:

1. Units. Every line gets the dummy `▁` and its spaces become `▁`; with `split_by_whitespace` (the default,
   as in SentencePiece) it is cut before each `▁` into chunks ("▁to", "▁be,"), so no piece spans two words.
   Identical chunks are counted once, with their count as a weight. Lines holding a literal `▁` are skipped.
2. Seed. Every substring of the chunks up to `max_piece_length` characters, occurring at least twice, ranked
   by count × length; the best `seed_size` of them plus every single character (always kept: they guarantee
   every chunk a segmentation). Initial log-probabilities are log(count × length), normalised.
3. EM, `num_sub_iterations` times per round. E-step: the forward-backward algorithm on each chunk's lattice
   gives each piece's expected count (how many times it is used, averaged over all segmentations weighted by
   their probability) and the corpus log-likelihood. M-step: P(p) = expected count / total. This is plain
   maximum likelihood; SentencePiece uses digamma(count) - digamma(total) instead (a variational-Bayes
   estimate that pushes rare pieces down a little more) — left out here for clarity. Pieces whose expected
   count falls under 0.5 are dropped (single characters are kept, floored at 0.5).
4. Prune. For each piece, the loss of removing it: its Viterbi uses would go to its best segmentation
   without it (its "alternatives"), and the likelihood changes by
       F(p) · [log P(p) - Σ_alternatives log P'(a)]
   (SentencePiece's approximation, with P' the probabilities after p's count moves to its alternatives and
   F(p) the share of chunks using p). Keep the pieces with the largest losses: `shrinking_factor` (0.75) of
   the vocabulary per round. Pieces no Viterbi path uses are pruned first (SentencePiece drops them all at
   once; ranking them last keeps the vocabulary from falling under the target on small corpora).
5. Stop once the vocabulary is within 10% of the target; keep the `vocab_size` best-scoring pieces (all
   characters first). The vocabulary is the special tokens, the 256 byte tokens (byte fallback), then the
   pieces by score.

The likelihood improves within a round (EM never makes it worse) and gets worse from round to round: each
prune takes pieces away, and a smaller vocabulary cannot fit the corpus as well. The trainer's job is to
lose as little as possible per piece removed. `on_step` receives each E-step's numbers to watch this.

The E-step runs on all chunks at once with numpy: the lattices of all chunks are laid end to end as one
graph, and the forward recursion alpha[end] = logsumexp(alpha[start] + log P(piece)) is evaluated for every
edge that ends at character position 1, then 2, …, grouping edges by their end node (`Lattices` below).
`Lattice.forward` in `unigram.py` is the same recursion for one string, written plainly; a test checks that
they agree.

    >>> tokenizer = train_unigram(open("input.txt").read().splitlines(), vocab_size=1000)
    >>> tokenizer.save("unigram.json")
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import regex

from glossa.errors import GlossaError
from glossa.tokenizers.unigram import SPACE, Unigram, byte_token

_CHUNK = regex.compile(f"{SPACE}[^{SPACE}]*|[^{SPACE}]+")
DEFAULT_SPECIAL_TOKENS = ("<unk>", "<s>", "</s>")
MIN_EXPECTED_COUNT = 0.5


@dataclass(frozen=True)
class EMStep:
    """One E-step: `nll_per_char` is the corpus negative log-likelihood (nats) per ▁-text character."""

    round: int
    sub_iteration: int
    pieces: int
    nll_per_char: float


def count_units(
    texts: Iterable[str], *, add_dummy_prefix: bool = True, split_by_whitespace: bool = True
) -> Counter[str]:
    """The training units (▁-form chunks, or whole lines) and how often each occurs."""
    counts: Counter[str] = Counter()
    for text in texts:
        for line in text.split("\n"):
            if not line or SPACE in line:
                continue
            string = (" " + line if add_dummy_prefix else line).replace(" ", SPACE)
            if split_by_whitespace:
                counts.update(_CHUNK.findall(string))
            else:
                counts[string] += 1
    return counts


class Lattices:
    """The lattices of many strings at once, as flat numpy arrays.

    Node `offsets[s] + i` is position i of string s. An edge goes from node `src` to node `dst` and uses
    piece `piece`. Edges are kept sorted by (end position, dst), so that all edges ending at position k form
    one slice, and within it the edges into one node are contiguous."""

    def __init__(
        self,
        lengths: np.ndarray,
        weights: np.ndarray,
        string: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        piece: np.ndarray,
    ) -> None:
        self.lengths, self.weights = lengths, weights
        self.offsets = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
        self.end_nodes = self.offsets + lengths
        self.n_nodes = int(self.end_nodes[-1]) + 1 if len(lengths) else 0
        order = np.lexsort((self.offsets[string] + end, end))
        self.string, self.start, self.end, self.piece = string[order], start[order], end[order], piece[order]
        self.src = self.offsets[self.string] + self.start
        self.dst = self.offsets[self.string] + self.end
        self.forward_groups = _groups(self.end, self.dst)
        self.backward_order = np.lexsort((self.src, self.start))
        self.backward_groups = _groups(self.start[self.backward_order], self.src[self.backward_order])[::-1]

    def restricted(self, keep_piece: np.ndarray) -> Lattices:
        """The same strings with only the edges of pieces where `keep_piece` is true."""
        keep = keep_piece[self.piece]
        return Lattices(
            self.lengths, self.weights, self.string[keep], self.start[keep], self.end[keep], self.piece[keep]
        )

    def forward_backward(self, log_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log Z of each string and each piece's expected count (weighted by the strings' weights)."""
        edge_score = log_prob[self.piece]
        alpha = np.full(self.n_nodes, -np.inf)
        alpha[self.offsets] = 0.0
        for low, high, starts, nodes in self.forward_groups:
            alpha[nodes] = _segment_logsumexp(alpha[self.src[low:high]] + edge_score[low:high], starts)
        beta = np.full(self.n_nodes, -np.inf)
        beta[self.end_nodes] = 0.0
        dst, score = self.dst[self.backward_order], edge_score[self.backward_order]
        for low, high, starts, nodes in self.backward_groups:
            beta[nodes] = _segment_logsumexp(beta[dst[low:high]] + score[low:high], starts)
        log_z = alpha[self.end_nodes]
        posterior = np.exp(alpha[self.src] + edge_score + beta[self.dst] - log_z[self.string])
        expected = np.bincount(self.piece, posterior * self.weights[self.string], minlength=len(log_prob))
        return log_z, expected

    def viterbi(self, log_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The best path of every string, as the (string, piece) of each edge on it."""
        edge_score = log_prob[self.piece]
        best = np.full(self.n_nodes, -np.inf)
        best[self.offsets] = 0.0
        back = np.full(self.n_nodes, -1, dtype=np.int64)
        for low, high, starts, nodes in self.forward_groups:
            values = best[self.src[low:high]] + edge_score[low:high]
            maxima = np.maximum.reduceat(values, starts)
            segment = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, high - low)))
            winners = np.flatnonzero(values == maxima[segment])
            _, first = np.unique(segment[winners], return_index=True)
            best[nodes] = maxima
            back[nodes] = low + winners[first]
        strings, pieces = [], []
        active = np.flatnonzero(self.lengths > 0)
        node = self.end_nodes[active]
        while len(active):
            edge = back[node]
            if np.any(edge < 0):
                raise AssertionError("a string has no segmentation")
            strings.append(active)
            pieces.append(self.piece[edge])
            node = self.src[edge]
            more = node != self.offsets[active]
            active, node = active[more], node[more]
        if not strings:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(strings), np.concatenate(pieces)


def _groups(position: np.ndarray, node: np.ndarray) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """For sorted edges: one (low, high, segment starts relative to low, segment nodes) per position."""
    if len(position) == 0:
        return []
    position_breaks = np.flatnonzero(np.diff(position)) + 1
    node_breaks = np.flatnonzero(np.diff(node)) + 1
    bounds = np.concatenate([[0], position_breaks, [len(position)]])
    segment_starts = np.concatenate([[0], node_breaks])
    groups = []
    for low, high in itertools.pairwise(bounds):
        first, last = np.searchsorted(segment_starts, [low, high])
        starts = segment_starts[first:last]
        groups.append((int(low), int(high), starts - low, node[starts]))
    return groups


def _segment_logsumexp(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    maxima = np.maximum.reduceat(values, starts)
    lengths = np.diff(np.append(starts, len(values)))
    shifted = np.exp(values - np.repeat(maxima, lengths))
    with np.errstate(divide="ignore"):
        return maxima + np.log(np.add.reduceat(shifted, starts))


def _all_substrings(
    strings: Sequence[str], max_length: int, index: dict[str, int], *, grow: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(string, start, end, piece) of every substring of `strings` (up to `max_length`) found in `index`;
    with `grow`, substrings not yet in `index` are added to it."""
    string_ids, starts, ends, pieces = [], [], [], []
    for string_id, string in enumerate(strings):
        n = len(string)
        for start in range(n):
            for end in range(start + 1, min(n, start + max_length) + 1):
                piece = (
                    index.setdefault(string[start:end], len(index)) if grow else index.get(string[start:end])
                )
                if piece is not None:
                    string_ids.append(string_id)
                    starts.append(start)
                    ends.append(end)
                    pieces.append(piece)
    return tuple(np.array(column, dtype=np.int64) for column in (string_ids, starts, ends, pieces))


def train_unigram(
    texts: Iterable[str],
    vocab_size: int,
    *,
    max_piece_length: int = 16,
    seed_size: int = 1_000_000,
    shrinking_factor: float = 0.75,
    num_sub_iterations: int = 2,
    special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS,
    byte_fallback: bool = True,
    add_dummy_prefix: bool = True,
    split_by_whitespace: bool = True,
    progress: bool = False,
    on_step: Callable[[EMStep], None] | None = None,
) -> Unigram:
    """A Unigram tokenizer with `vocab_size` ids (special and byte tokens included), trained on `texts`.

    The vocabulary can come out smaller than asked when the corpus cannot use that many pieces (EM drops
    pieces whose expected count falls under 0.5); `vocab_size` of the result says what it is."""
    if not 0 < shrinking_factor < 1:
        raise GlossaError(f"shrinking_factor must be between 0 and 1, not {shrinking_factor}")
    if not special_tokens or (not byte_fallback and "<unk>" not in special_tokens):
        raise GlossaError("without byte fallback, special_tokens must include <unk>")
    units = count_units(texts, add_dummy_prefix=add_dummy_prefix, split_by_whitespace=split_by_whitespace)
    if not units:
        raise GlossaError("the training corpus has no text; give it some lines")
    strings = list(units)
    weights = np.array([units[string] for string in strings], dtype=np.float64)
    lengths = np.array([len(string) for string in strings], dtype=np.int64)
    total_chars = float(weights @ lengths)

    characters = sorted({char for string in strings for char in string})
    target = vocab_size - len(special_tokens) - (256 if byte_fallback else 0)
    if target < len(characters):
        raise GlossaError(
            f"vocab_size {vocab_size} is too small: {len(special_tokens)} special tokens"
            f"{', 256 byte tokens' if byte_fallback else ''} and the corpus's {len(characters)} characters "
            f"need at least {vocab_size - target + len(characters)}"
        )

    # Seed: every substring gets an id; count its occurrences; keep characters and the best seed_size others.
    index: dict[str, int] = {char: i for i, char in enumerate(characters)}
    string_col, start_col, end_col, piece_col = _all_substrings(strings, max_piece_length, index, grow=True)
    pieces = list(index)
    counts = np.bincount(piece_col, weights[string_col], minlength=len(pieces))
    piece_length = np.array([len(piece) for piece in pieces], dtype=np.int64)
    is_char = piece_length == 1
    rank_score = counts * piece_length
    candidates = np.flatnonzero(~is_char & (counts >= 2))
    candidates = candidates[np.lexsort((candidates, -rank_score[candidates]))][:seed_size]
    alive = is_char.copy()
    alive[candidates] = True
    if int(alive.sum()) < target:
        raise GlossaError(
            f"vocab_size {vocab_size} is too large for this corpus: it yields only {int(alive.sum())} pieces "
            f"(plus specials and bytes); use at most {vocab_size - target + int(alive.sum())}"
        )
    log_prob = np.full(len(pieces), -np.inf)
    log_prob[alive] = np.log(rank_score[alive]) - np.log(rank_score[alive].sum())

    lattices = Lattices(lengths, weights, string_col, start_col, end_col, piece_col).restricted(alive)
    alternative_edges: dict[int, np.ndarray] = {}
    desired = int(target * 1.1)
    bar = _progress(progress)
    try:
        for round_number in range(1, 10_000):
            for sub_iteration in range(num_sub_iterations):
                log_z, expected = lattices.forward_backward(log_prob)
                step = EMStep(
                    round_number, sub_iteration, int(alive.sum()), -float(weights @ log_z) / total_chars
                )
                if on_step is not None:
                    on_step(step)
                if bar is not None:
                    bar[0].update(
                        bar[1],
                        description=f"Unigram EM: {step.pieces} pieces, {step.nll_per_char:.4f} nats/char",
                    )
                alive, log_prob = _m_step(expected, alive, is_char)
                lattices = lattices.restricted(alive)
            if alive.sum() <= desired:
                break
            alive = _prune(
                lattices,
                log_prob,
                alive,
                is_char,
                pieces,
                index,
                max_piece_length,
                shrinking_factor,
                desired,
                alternative_edges,
            )
            lattices = lattices.restricted(alive)
    finally:
        if bar is not None:
            bar[0].stop()

    chosen = _finalize(log_prob, alive, is_char, target)
    vocab: list[tuple[str, float, str]] = [(token, 0.0, "special") for token in special_tokens]
    if byte_fallback:
        vocab += [(byte_token(value), 0.0, "byte") for value in range(256)]
    vocab += [(pieces[i], float(log_prob[i]), "normal") for i in chosen]
    return Unigram(
        vocab,
        unk_token="<unk>",
        bos_token="<s>" if "<s>" in special_tokens else None,
        eos_token="</s>" if "</s>" in special_tokens else None,
        add_dummy_prefix=add_dummy_prefix,
    )


def _m_step(expected: np.ndarray, alive: np.ndarray, is_char: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New probabilities ∝ expected counts; pieces under MIN_EXPECTED_COUNT dropped, characters kept."""
    counts = np.where(is_char & alive, np.maximum(expected, MIN_EXPECTED_COUNT), expected)
    alive = alive & ((counts >= MIN_EXPECTED_COUNT) | is_char)
    log_prob = np.full(len(counts), -np.inf)
    log_prob[alive] = np.log(counts[alive]) - math.log(counts[alive].sum())
    return alive, log_prob


def _prune(
    lattices: Lattices,
    log_prob: np.ndarray,
    alive: np.ndarray,
    is_char: np.ndarray,
    pieces: list[str],
    index: dict[str, int],
    max_piece_length: int,
    shrinking_factor: float,
    desired: int,
    alternative_edges: dict[int, np.ndarray],
) -> np.ndarray:
    """The pieces to keep: characters, then the rest by the likelihood lost if each were removed."""
    path_string, path_piece = lattices.viterbi(log_prob)
    weight = lattices.weights[path_string]
    freq = np.bincount(path_piece, weight, minlength=len(pieces))
    pairs = np.unique(path_string * len(pieces) + path_piece)
    share = np.bincount(pairs % len(pieces), lattices.weights[pairs // len(pieces)], minlength=len(pieces))
    share /= lattices.weights.sum()

    # Each used multi-character piece's best segmentation without itself (its alternatives).
    used = np.flatnonzero((freq > 0) & ~is_char)
    for piece_id in used:
        if piece_id not in alternative_edges:
            _, start, end, sub = _all_substrings([pieces[piece_id]], max_piece_length, index, grow=False)
            alternative_edges[piece_id] = np.stack([start, end, sub])
    edges = [alternative_edges[piece_id] for piece_id in used]
    edge_counts = np.array([edge.shape[1] for edge in edges], dtype=np.int64)
    start, end, sub = np.concatenate(edges, axis=1) if edges else np.zeros((3, 0), dtype=np.int64)
    owner = np.repeat(np.arange(len(used)), edge_counts)
    own_lengths = np.array([len(pieces[i]) for i in used], dtype=np.int64)
    keep = alive[sub] & ~((start == 0) & (end == own_lengths[owner]))
    alternatives = Lattices(own_lengths, np.ones(len(used)), owner[keep], start[keep], end[keep], sub[keep])
    alt_owner, alt_piece = alternatives.viterbi(log_prob)

    total = freq.sum()
    f = freq[used]
    alt_count = np.bincount(alt_owner, minlength=len(used))
    log_total_alt = np.log(total + f * (alt_count - 1))
    log_prob_alt = np.bincount(alt_owner, np.log(freq[alt_piece] + f[alt_owner]), minlength=len(used))
    log_prob_alt -= alt_count * log_total_alt
    loss = share[used] * (np.log(f) - math.log(total) - log_prob_alt)

    score = np.full(len(pieces), -np.inf)
    score[used] = loss
    kept = alive & is_char
    size = max(desired, int(shrinking_factor * alive.sum()))
    others = np.flatnonzero(alive & ~is_char)
    # Unused pieces (score -inf) come last; ties go to the lower id (the substring seen first).
    others = others[np.lexsort((others, -score[others]))]
    kept[others[: max(0, size - int(kept.sum()))]] = True
    return kept


def _finalize(log_prob: np.ndarray, alive: np.ndarray, is_char: np.ndarray, target: int) -> list[int]:
    """The final pieces: all characters, then the best-scoring others, up to `target`; sorted by score."""
    chars = np.flatnonzero(alive & is_char)
    others = np.flatnonzero(alive & ~is_char)
    others = others[np.lexsort((others, -log_prob[others]))][: max(0, target - len(chars))]
    chosen = np.concatenate([chars, others])
    return [int(i) for i in chosen[np.lexsort((chosen, -log_prob[chosen]))]]


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("Unigram EM", total=None)
    bar.start()
    return bar, task

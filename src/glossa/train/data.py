"""Batches for language modelling: random windows of seq_len + 1 tokens from a stream of token ids; the
first seq_len are the input, the last seq_len (shifted by one) the targets (nanoGPT's get_batch).

Windows are drawn by a seeded numpy generator whose state is the loader's position: `state()` goes into the
checkpoint and `load_state()` puts it back, so a resumed run sees exactly the batches an uninterrupted one
would. Under data parallelism every process draws the same global batch and keeps its own slice, so N
processes with batch B/N see the same examples as one process with batch B.

Shards (`glossa.tokenizers.batch` format) are memory-mapped; a window never crosses two shards (a shard is
picked with probability proportional to its windows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from glossa.errors import GlossaError


def load_shards(paths: list[str]) -> list[np.ndarray]:
    from glossa.tokenizers.batch import read_token_shard

    return [read_token_shard(Path(path))[1] for path in paths]


class BatchLoader:
    def __init__(
        self,
        arrays: list[np.ndarray],
        batch_size: int,
        seq_len: int,
        seed: int,
        *,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.arrays = [a for a in arrays if len(a) > seq_len]
        if not self.arrays:
            raise GlossaError(
                f"the data has no window of {seq_len + 1} tokens: use more data or a smaller seq_len"
            )
        if batch_size % world:
            raise GlossaError(f"batch_size {batch_size} must be divisible by the {world} processes")
        self.batch_size, self.seq_len, self.rank, self.world = batch_size, seq_len, rank, world
        windows = np.array([len(a) - seq_len for a in self.arrays], dtype=np.float64)
        self.weights = windows / windows.sum()
        self.rng = np.random.default_rng(seed)
        self.batches_drawn = 0

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of this process's slice: (batch_size / world, seq_len) int64 each."""
        n = self.batch_size
        shard = self.rng.choice(len(self.arrays), size=n, p=self.weights) if len(self.arrays) > 1 else [0] * n
        starts = [int(self.rng.integers(0, len(self.arrays[s]) - self.seq_len)) for s in shard]
        self.batches_drawn += 1
        local = n // self.world
        mine = range(self.rank * local, (self.rank + 1) * local)
        rows = np.stack([self.arrays[shard[i]][starts[i] : starts[i] + self.seq_len + 1] for i in mine])
        rows = torch.from_numpy(rows.astype(np.int64))
        return rows[:, :-1], rows[:, 1:]

    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "batches_drawn": self.batches_drawn}

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.batches_drawn = state["batches_drawn"]


def sequential_batches(tokens: np.ndarray, seq_len: int, batch_size: int, limit: int | None = None):
    """Non-overlapping windows covering `tokens` in order (the whole split, for a final score)."""
    count = (len(tokens) - 1) // seq_len
    for done, first in enumerate(range(0, count, batch_size), start=1):
        rows = range(first, min(count, first + batch_size))
        x = np.stack([tokens[r * seq_len : r * seq_len + seq_len] for r in rows]).astype(np.int64)
        y = np.stack([tokens[r * seq_len + 1 : r * seq_len + seq_len + 1] for r in rows]).astype(np.int64)
        yield torch.from_numpy(x), torch.from_numpy(y)
        if limit is not None and done >= limit:
            return

"""KV caches for the inference engine: a contiguous one per sequence, and a paged one shared by all of them.

Both store, for every layer, the keys and values of only the KV heads (GQA/MQA: SmolLM2's 3 KV heads, not
its 9 query heads) as a flat table of *slots*, one slot per cached token: `keys[layer]` is
(num_slots, n_kv_heads, head_dim). What differs is which slot a sequence's position p lands in:

- `ContiguousKVCache`: sequence i owns slots [i·max_len, (i+1)·max_len); position p is slot i·max_len + p.
  Simple, but every sequence reserves max_len slots whether it uses them or not.
- `PagedKVCache` (vLLM's PagedAttention): the slots form fixed-size *blocks* of 16 tokens, and each sequence
  has a *block table*, the list of blocks that hold its positions 0–15, 16–31, ...; position p is slot
  table[p // 16]·16 + p % 16. Memory is taken a block at a time as a sequence grows, so nothing is reserved
  for tokens that are never generated, and sequences can *share* blocks:

  * reference counts: `fork(parent, child)` gives the child the parent's blocks (n samples of one prompt
    share the prompt's blocks); a block returns to the pool when its count reaches zero;
  * copy-on-write: a sequence about to write into a block that someone else also holds first copies it;
  * prefix caching: every FULL block gets a hash chained from its parent's, hash(parent_hash, its 16 tokens),
    which names the whole prefix up to it. A new prompt walks its own chain of hashes and reuses every block
    already computed for the same prefix (a shared system prompt is computed once). Freed blocks with a hash
    stay cached, in an LRU, until the pool needs them back.

The runner asks only for `slots(seq_id, start, end)` (where to write the new tokens) and `gather_slots`
(where to read all of a sequence's tokens), so both caches run the same model code.

    cache = PagedKVCache(n_layers=2, n_kv_heads=2, head_dim=16, num_blocks=64)
    cached = cache.allocate_prompt("a", prompt_ids)      # tokens already in the cache (prefix hits)
    cache.ensure_capacity("a", len(prompt_ids))          # False: not enough free blocks
    cache.commit("a", prompt_ids)                        # hash the full blocks just computed
    cache.free("a")
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch

from glossa.errors import GlossaError

BLOCK_SIZE = 16


def kv_bytes_per_token(
    n_layers: int, n_kv_heads: int, head_dim: int, dtype: torch.dtype = torch.float32
) -> int:
    """2 (K and V) × layers × KV heads × head_dim × bytes: what one cached token costs. GQA/MQA divide it by
    n_heads / n_kv_heads (SmolLM2: 3 KV heads instead of 9 → a third)."""
    return 2 * n_layers * n_kv_heads * head_dim * (torch.finfo(dtype).bits // 8)


def max_concurrent_sequences(
    kv_cache_bytes: int, seq_len: int, n_layers: int, n_kv_heads: int, head_dim: int, *,
    dtype: torch.dtype = torch.float32, block_size: int = BLOCK_SIZE,
) -> int:  # fmt: skip
    """How many sequences of `seq_len` tokens fit in the cache at once (concurrent users, memory-bound):
    each holds ceil(seq_len / block_size) blocks."""
    per_block = kv_bytes_per_token(n_layers, n_kv_heads, head_dim, dtype) * block_size
    return (kv_cache_bytes // per_block) // -(-seq_len // block_size)


def block_hash(parent: int | None, tokens: Sequence[int]) -> int:
    """The hash of a full block: it names its own tokens and, through `parent`, every token before them."""
    return hash((parent, tuple(tokens)))


class ContiguousKVCache:
    """Per sequence, max_len slots in a row; a fixed number of sequences (`max_seqs`)."""

    def __init__(
        self,
        n_layers: int,
        n_kv_heads: int,
        head_dim: int,
        *,
        max_seqs: int,
        max_len: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        self.max_seqs, self.max_len = max_seqs, max_len
        shape = (max_seqs * max_len, n_kv_heads, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self._row: dict[str, int] = {}
        self._free_rows = list(range(max_seqs - 1, -1, -1))

    def allocate_prompt(self, seq_id: str, token_ids: Sequence[int]) -> int:
        return 0  # no prefix caching here

    def ensure_capacity(self, seq_id: str, num_tokens: int) -> bool:
        if num_tokens > self.max_len:
            return False
        if seq_id not in self._row:
            if not self._free_rows:
                return False
            self._row[seq_id] = self._free_rows.pop()
        return True

    def fork(self, parent_id: str, child_id: str) -> None:
        if not self.ensure_capacity(child_id, 1):
            raise GlossaError("the contiguous KV cache has no free row for another sequence")
        source = slice(self._row[parent_id] * self.max_len, (self._row[parent_id] + 1) * self.max_len)
        target = slice(self._row[child_id] * self.max_len, (self._row[child_id] + 1) * self.max_len)
        for keys, values in zip(self.keys, self.values, strict=True):
            keys[target].copy_(keys[source])
            values[target].copy_(values[source])

    def can_copy_on_write(self, seq_id: str, start: int, end: int) -> int:
        return 0

    def prepare_write(self, seq_id: str, start: int, end: int) -> None:
        """Nothing is shared, so nothing is copied."""

    def commit(self, seq_id: str, token_ids: Sequence[int]) -> None:
        """Nothing is hashed."""

    def slots(self, seq_id: str, start: int, end: int) -> list[int]:
        base = self._row[seq_id] * self.max_len
        return list(range(base + start, base + end))

    def free(self, seq_id: str) -> None:
        row = self._row.pop(seq_id, None)
        if row is not None:
            self._free_rows.append(row)

    @property
    def num_free_blocks(self) -> int:
        return len(self._free_rows)

    @property
    def num_blocks(self) -> int:
        return self.max_seqs


class PagedKVCache:
    """A pool of `num_blocks` blocks of `block_size` token slots per layer, shared by every sequence."""

    def __init__(
        self,
        n_layers: int,
        n_kv_heads: int,
        head_dim: int,
        *,
        num_blocks: int,
        block_size: int = BLOCK_SIZE,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        enable_prefix_caching: bool = True,
    ) -> None:
        if num_blocks < 1 or block_size < 1:
            raise GlossaError(
                f"the KV cache needs at least one block of one token, not {num_blocks}×{block_size}"
            )
        self.num_blocks, self.block_size = num_blocks, block_size
        self.enable_prefix_caching = enable_prefix_caching
        shape = (num_blocks, block_size, n_kv_heads, head_dim)
        self._key_blocks = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self._value_blocks = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        # the runner's view: one flat row per slot (block b, offset o -> slot b·block_size + o)
        self.keys = [
            blocks.view(num_blocks * block_size, n_kv_heads, head_dim) for blocks in self._key_blocks
        ]
        self.values = [
            blocks.view(num_blocks * block_size, n_kv_heads, head_dim) for blocks in self._value_blocks
        ]
        self.ref_counts = [0] * num_blocks
        self._free: list[int] = list(range(num_blocks - 1, -1, -1))  # pop() hands out block 0 first
        self._evictable: OrderedDict[int, None] = OrderedDict()  # freed blocks that keep a cached prefix
        self._hash_of: dict[int, int] = {}  # block -> its chained hash (full, committed blocks only)
        self._block_of: dict[int, int] = {}  # chained hash -> block
        self.tables: dict[str, list[int]] = {}
        self._hashes: dict[str, list[int]] = {}  # per sequence: the hashes of its committed full blocks
        self.prefix_queries = 0  # prompt blocks looked up
        self.prefix_hits = 0  # of those, found cached

    # -- what the scheduler and the metrics ask -------------------------------------------------------------

    @property
    def num_free_blocks(self) -> int:
        """Blocks that can be handed out now (free, or cached but unused and evictable)."""
        return len(self._free) + len(self._evictable)

    @property
    def num_used_blocks(self) -> int:
        return self.num_blocks - self.num_free_blocks

    @property
    def prefix_hit_rate(self) -> float:
        return self.prefix_hits / self.prefix_queries if self.prefix_queries else 0.0

    def blocks_needed(self, num_tokens: int) -> int:
        return -(-num_tokens // self.block_size)

    # -- allocation -----------------------------------------------------------------------------------------

    def allocate_prompt(self, seq_id: str, token_ids: Sequence[int]) -> int:
        """Start a sequence: take every cached block of its longest cached prefix; return how many tokens
        that covers. At least one token is left to compute, so the model still yields the next logits."""
        if seq_id in self.tables:
            raise GlossaError(f"sequence {seq_id!r} already holds KV blocks")
        table: list[int] = []
        hashes: list[int] = []
        if self.enable_prefix_caching:
            parent = None
            full = (len(token_ids) - 1) // self.block_size
            self.prefix_queries += full
            for index in range(full):
                parent = block_hash(
                    parent, token_ids[index * self.block_size : (index + 1) * self.block_size]
                )
                block = self._block_of.get(parent)
                if block is None:
                    break
                self.prefix_hits += 1
                self._take(block)
                table.append(block)
                hashes.append(parent)
        self.tables[seq_id] = table
        self._hashes[seq_id] = hashes
        return len(table) * self.block_size

    def ensure_capacity(self, seq_id: str, num_tokens: int) -> bool:
        """Give the sequence blocks for `num_tokens` positions; False (and no change) if the pool is short."""
        table = self.tables[seq_id]
        missing = self.blocks_needed(num_tokens) - len(table)
        if missing <= 0:
            return True
        if missing > self.num_free_blocks:
            return False
        for _ in range(missing):
            table.append(self._allocate())
        return True

    def prepare_write(self, seq_id: str, start: int, end: int) -> None:
        """Copy-on-write: before positions [start, end) are written, replace every block in that range
        that another sequence also holds by a private copy."""
        table = self.tables[seq_id]
        for index in range(start // self.block_size, min(self.blocks_needed(end), len(table))):
            block = table[index]
            if self.ref_counts[block] > 1:
                copy = self._allocate()
                for keys, values in zip(self._key_blocks, self._value_blocks, strict=True):
                    keys[copy].copy_(keys[block])
                    values[copy].copy_(values[block])
                self.ref_counts[block] -= 1
                table[index] = copy

    def can_copy_on_write(self, seq_id: str, start: int, end: int) -> int:
        """How many new blocks `prepare_write` would need."""
        table = self.tables[seq_id]
        last = min(self.blocks_needed(end), len(table))
        return sum(1 for i in range(start // self.block_size, last) if self.ref_counts[table[i]] > 1)

    def commit(self, seq_id: str, token_ids: Sequence[int]) -> None:
        """Register the hashes of the sequence's blocks that are now full of computed tokens."""
        if not self.enable_prefix_caching:
            return
        table, hashes = self.tables[seq_id], self._hashes[seq_id]
        full = min(len(token_ids) // self.block_size, len(table))
        parent = hashes[-1] if hashes else None
        for index in range(len(hashes), full):
            parent = block_hash(parent, token_ids[index * self.block_size : (index + 1) * self.block_size])
            hashes.append(parent)
            block = table[index]
            if parent not in self._block_of and block not in self._hash_of:
                self._block_of[parent] = block
                self._hash_of[block] = parent

    def fork(self, parent_id: str, child_id: str) -> None:
        """The child shares every block of the parent (its computed prefix); writes copy on demand."""
        table = list(self.tables[parent_id])
        for block in table:
            self.ref_counts[block] += 1
        self.tables[child_id] = table
        self._hashes[child_id] = list(self._hashes[parent_id])

    def free(self, seq_id: str) -> None:
        """Release the sequence's blocks (idempotent); cached ones stay findable until evicted."""
        table = self.tables.pop(seq_id, None)
        self._hashes.pop(seq_id, None)
        if table is None:
            return
        for block in reversed(table):  # the tail is evicted first: the head is the most shareable prefix
            self.ref_counts[block] -= 1
            if self.ref_counts[block] == 0:
                if block in self._hash_of:
                    self._evictable[block] = None
                else:
                    self._free.append(block)

    def slots(self, seq_id: str, start: int, end: int) -> list[int]:
        table, size = self.tables[seq_id], self.block_size
        return [table[p // size] * size + p % size for p in range(start, end)]

    def reset_prefix_cache(self) -> None:
        """Forget every cached prefix (blocks in use keep their contents)."""
        for block in self._evictable:
            self._free.append(block)
        self._evictable.clear()
        self._hash_of.clear()
        self._block_of.clear()

    # -- internals ------------------------------------------------------------------------------------------

    def _take(self, block: int) -> None:
        if self.ref_counts[block] == 0:
            self._evictable.pop(block, None)
        self.ref_counts[block] += 1

    def _allocate(self) -> int:
        if self._free:
            block = self._free.pop()
        elif self._evictable:
            block, _ = self._evictable.popitem(last=False)  # least recently freed
            del self._block_of[self._hash_of.pop(block)]
        else:
            raise GlossaError("the KV cache is out of blocks (the scheduler should have checked)")
        self.ref_counts[block] = 1
        return block

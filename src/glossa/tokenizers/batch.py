"""Encoding many texts: worker processes, and token shards on disk for training.

**Processes.** Encoding is pure Python and holds the GIL, so threads do not help; processes do. On Linux
(`fork`) `encode_in_processes` starts `processes - 1` workers and the calling process encodes too: the texts
are cut into `CHUNKS_PER_PROCESS` ranges per process, the workers take ranges from the front (two in flight
each) and the caller takes them from the back until they meet, so nobody waits at the end for a straggler.
Workers are forked after the texts and the tokenizer are in a module global, so nothing is pickled on the
way in: a task is just (start, stop). The ids come back as lists, which unpickle at C speed.

Two things made forked workers slow, and both are handled. The cyclic garbage collector walks every object
it tracks, including the parent's whole heap that a forked child shares page by page, so each collection in
a child wrote to (and copied) pages all over that heap: the parent calls `gc.freeze()` before forking, which
moves its objects out of the collector's sight. And encoding allocates millions of small lists (ids, cached
pieces) that form no reference cycles, so collections during encoding are pure cost: `_collector_paused`
switches the collector off while a batch encodes, in one process or many (~20% faster even in one).

Elsewhere (macOS, Windows) workers are spawned: a fresh interpreter each, about a second to start, which
gets its own copy of the tokenizer once and receives the texts in pickled chunks of up to `CHUNK_CHARS`
characters; there, processes pay off only from several megabytes of text. `write_token_shards` keeps such
a pool for the whole stream on every platform, since its documents arrive after any fork.

**Shards.** `write_token_shards` turns a stream of documents into files of at most `shard_tokens` ids:

    header (64 bytes, little-endian)                                    then the ids
      magic  b"GLOSSATK"         8 bytes                                  uint16 if vocab_size <= 65536,
      version                    u32 (1)                                  else uint32
      bytes per id               u32 (2 or 4)
      vocab size                 u64
      token count                u64
      tokenizer fingerprint      32 bytes (SHA-256, `tokenizer_fingerprint`)

uint16 halves the disk and memory of a 50k-token vocabulary (GPT-2's 50,257, SmolLM2's 49,152) compared with
int32, and the header says which one, so a reader never guesses. The fingerprint ties a shard to the exact
tokenizer that made it: a model trained on ids from one vocabulary is garbage with another, and the ids alone
cannot tell. Each shard is written atomically; a reader can `np.memmap` the ids after the header.

**Document boundaries.** Documents are concatenated into one stream (a document may run across two shards),
each followed by a separator id, the GPT-2 / nanoGPT convention: the model learns where a text ends, and a
sampler can stop there. The separator is `<|endoftext|>` when the tokenizer has that special token (GPT-2's
end of text, and what SmolLM2 was pretrained with: its declared EOS, <|im_end|>, ends a chat turn instead),
else the EOS id. A tokenizer with neither gets its BOS id before each document (nanochat's convention); one
with none of the three is refused, because documents would run together unseen.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import struct
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from glossa.atomic import atomic_write
from glossa.errors import GlossaError
from glossa.forking import can_fork, deferred_interrupts, ignore_interrupts
from glossa.tokenizers.base import Tokenizer

CHUNK_CHARS = 256 * 1024
CHUNKS_PER_PROCESS = 8
IN_FLIGHT_PER_WORKER = 2
SHARD_MAGIC = b"GLOSSATK"
SHARD_VERSION = 1
SHARD_HEADER = struct.Struct("<8sIIQQ32s")  # 64 bytes
DEFAULT_SHARD_TOKENS = 10_000_000
SHARD_PATTERN = "tokens_{:06d}.bin"
BATCH_CHARS = 16 * CHUNK_CHARS  # per worker process
END_OF_TEXT = "<|endoftext|>"
FINGERPRINT_ATTRIBUTES = ("pretokenizer", "merges", "ignore_merges", "vocab")


# -- encoding in worker processes -------------------------------------------------------------------------

_worker_tokenizer: Tokenizer | None = None


def _start_worker(tokenizer: Tokenizer) -> None:
    global _worker_tokenizer
    ignore_interrupts()
    _worker_tokenizer = copy.deepcopy(tokenizer)


def _encode_chunk(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    assert _worker_tokenizer is not None
    with _collector_paused():
        encoded = [_worker_tokenizer.encode(text) for text in texts]
    lengths = np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded))
    flat = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


def _chunks(texts: Sequence[str], chunk_chars: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for text in texts:
        chunk.append(text)
        size += len(text)
        if size >= chunk_chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _split(flat: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    ids = flat.tolist()
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    return [ids[start:end] for start, end in itertools.pairwise(bounds)]


def encode_in_processes(
    tokenizer: Tokenizer, texts: Sequence[str], processes: int, *, chunk_chars: int = CHUNK_CHARS
) -> list[list[int]]:
    """`[tokenizer.encode(t) for t in texts]`, spread over `processes` processes (this one included), in
    order. `chunk_chars` bounds a pickled chunk where workers are spawned."""
    if processes < 1:
        raise GlossaError(f"processes must be at least 1, not {processes}")
    texts = list(texts)
    if processes == 1 or len(texts) < 2:
        with _collector_paused():
            return [tokenizer.encode(text) for text in texts]
    if can_fork():
        return _encode_forked(tokenizer, texts, processes)
    with _pool(tokenizer, processes) as pool:
        return _encode_in_pool(pool, texts, processes, chunk_chars)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_forked_work: tuple[Tokenizer, list[str]] | None = None


def _encode_range(start: int, stop: int) -> list[list[int]]:
    assert _forked_work is not None
    tokenizer, texts = _forked_work
    with _collector_paused():
        return [tokenizer.encode(text) for text in texts[start:stop]]


def _encode_forked(tokenizer: Tokenizer, texts: list[str], processes: int) -> list[list[int]]:
    """Workers forked with the texts in memory take ranges from the front, this process from the back."""
    global _forked_work
    count = min(len(texts), processes * CHUNKS_PER_PROCESS)
    bounds = [len(texts) * i // count for i in range(count + 1)]
    ranges = list(itertools.pairwise(bounds))
    results: list[list[list[int]] | None] = [None] * count
    front, back = 0, count
    in_flight: dict[int, Future[list[list[int]]]] = {}
    _forked_work = (tokenizer, texts)
    caller_froze = gc.get_freeze_count() > 0  # then leave the permanent generation as the caller keeps it
    gc.freeze()
    try:
        forked = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(processes - 1, mp_context=forked, initializer=ignore_interrupts) as pool:
            while front < back or in_flight:
                for index in [i for i, future in in_flight.items() if future.done()]:
                    results[index] = in_flight.pop(index).result()
                while front < back and len(in_flight) < IN_FLIGHT_PER_WORKER * (processes - 1):
                    with deferred_interrupts():
                        in_flight[front] = pool.submit(_encode_range, *ranges[front])
                    front += 1
                if front < back:
                    back -= 1
                    results[back] = _encode_range(*ranges[back])
                elif in_flight:
                    index = min(in_flight)
                    results[index] = in_flight.pop(index).result()
    except BrokenProcessPool as error:
        raise GlossaError(f"a tokenizer worker process died ({error}); run with processes=1") from None
    finally:
        if not caller_froze:
            gc.unfreeze()
        _forked_work = None
    return [ids for chunk in results if chunk is not None for ids in chunk]


def _encode_in_pool(
    pool: ProcessPoolExecutor, texts: list[str], processes: int, chunk_chars: int
) -> list[list[int]]:
    """Encode in `pool`, in chunks small enough that every worker gets several (at most `chunk_chars`)."""
    total_chars = sum(len(text) for text in texts)
    chunk_chars = max(1, min(chunk_chars, total_chars // (4 * processes)))
    encoded: list[list[int]] = []
    try:
        with deferred_interrupts():  # map submits every chunk before it returns
            results = pool.map(_encode_chunk, _chunks(texts, chunk_chars))
        for flat, lengths in results:
            encoded.extend(_split(flat, lengths))
    except BrokenProcessPool as error:
        raise GlossaError(
            f"a tokenizer worker process died ({error}); run with processes=1, or from a script file "
            "(spawned workers re-import the main module, so it cannot be stdin or an interactive session)"
        ) from None
    return encoded


def _pool(tokenizer: Tokenizer, processes: int) -> ProcessPoolExecutor:
    initargs = (tokenizer,)
    if can_fork():
        forked = multiprocessing.get_context("fork")
        return ProcessPoolExecutor(processes, mp_context=forked, initializer=_start_worker, initargs=initargs)
    main_file = getattr(sys.modules["__main__"], "__file__", None)
    if main_file is not None and not os.path.exists(main_file):
        # A spawned worker re-runs the main script first; when that is stdin it dies at once, and the parent
        # then blocks forever writing the tokenizer into its pipe (CPython's spawn does not notice).
        raise GlossaError(
            f"worker processes cannot start from {main_file}: run from a script file, or use processes=1"
        )
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(processes, mp_context=context, initializer=_start_worker, initargs=initargs)


# -- fingerprints and shards --------------------------------------------------------------------------------


def tokenizer_fingerprint(tokenizer: Tokenizer) -> bytes:
    """SHA-256 of what decides the ids: the algorithm, the vocabulary (every id's string and bytes), the
    special tokens, and the algorithm's own tables (`FINGERPRINT_ATTRIBUTES`: BPE merges, pre-tokenizer and
    merge mode, Unigram pieces with their scores, WordPiece's token-to-id map)."""
    digest = hashlib.sha256()
    digest.update(type(tokenizer).__name__.encode())
    digest.update(b"\0%d\0" % tokenizer.vocab_size)
    for token_id in range(tokenizer.vocab_size):
        digest.update(tokenizer.id_to_token(token_id).encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
        digest.update(tokenizer.token_bytes(token_id))
        digest.update(b"\0")
    digest.update(json.dumps(sorted(tokenizer.special_tokens.items())).encode())
    for attribute in FINGERPRINT_ATTRIBUTES:
        value = getattr(tokenizer, attribute, None)
        if value is not None:
            digest.update(attribute.encode())
            digest.update(json.dumps(value, ensure_ascii=False, sort_keys=True, default=list).encode())
    return digest.digest()


@dataclass(frozen=True)
class ShardHeader:
    version: int
    dtype: np.dtype
    vocab_size: int
    token_count: int
    fingerprint: bytes

    def pack(self) -> bytes:
        return SHARD_HEADER.pack(
            SHARD_MAGIC,
            self.version,
            self.dtype.itemsize,
            self.vocab_size,
            self.token_count,
            self.fingerprint,
        )


def shard_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits in 16 bits, else uint32."""
    return np.dtype("<u2") if vocab_size <= 2**16 else np.dtype("<u4")


def document_separator(tokenizer: Tokenizer) -> tuple[int, bool]:
    """(separator id, whether it goes after each document): <|endoftext|> after if the tokenizer has that
    special token, else EOS after, else BOS before."""
    if END_OF_TEXT in tokenizer.special_tokens:
        return tokenizer.special_tokens[END_OF_TEXT], True
    if tokenizer.eos_id is not None:
        return tokenizer.eos_id, True
    if tokenizer.bos_id is not None:
        return tokenizer.bos_id, False
    raise GlossaError(
        f"tokenizer {tokenizer.name!r} has neither an EOS nor a BOS token to separate documents; "
        "train it with --special '<|endoftext|>' (or give it an EOS token)"
    )


def write_token_shards(
    tokenizer: Tokenizer,
    texts: Iterable[str],
    out_dir: str | Path,
    *,
    shard_tokens: int = DEFAULT_SHARD_TOKENS,
    processes: int = 1,
    progress: bool = True,
    overwrite: bool = False,
) -> list[Path]:
    """Encode the documents `texts` into shards `tokens_000000.bin`, … of at most `shard_tokens` ids each."""
    if shard_tokens < 1:
        raise GlossaError(f"shard_tokens must be at least 1, not {shard_tokens}")
    if processes < 1:
        raise GlossaError(f"processes must be at least 1, not {processes}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise GlossaError(f"{out_dir} is a file; give a folder for the shards")
    existing = sorted(out_dir.glob("tokens_*.bin")) if out_dir.is_dir() else []
    if existing and not overwrite:
        raise GlossaError(f"{out_dir} already holds {len(existing)} token shards; choose an empty folder")
    separator, after = document_separator(tokenizer)
    dtype = shard_dtype(tokenizer.vocab_size)
    fingerprint = tokenizer_fingerprint(tokenizer)
    writer = _ShardWriter(out_dir, shard_tokens, dtype, tokenizer.vocab_size, fingerprint)
    pool = _pool(tokenizer, processes) if processes > 1 else None
    try:
        with _progress(progress) as advance:
            for batch in _batched(texts, BATCH_CHARS * processes):
                if pool is None:
                    encoded = encode_in_processes(tokenizer, batch, 1)
                else:
                    encoded = _encode_in_pool(pool, batch, processes, CHUNK_CHARS)
                for ids in encoded:
                    writer.add([*ids, separator] if after else [separator, *ids])
                advance(len(batch))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    written = writer.finish()
    for stale in existing:
        if stale not in written:
            stale.unlink()
    return written


def _batched(texts: Iterable[str], batch_chars: int) -> Iterator[list[str]]:
    """Documents in batches of about `batch_chars` characters, so a stream never sits in memory whole."""
    batch: list[str] = []
    size = 0
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise GlossaError(f"documents must be strings; document {index} is a {type(text).__name__}")
        batch.append(text)
        size += len(text)
        if size >= batch_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class _ShardWriter:
    """Buffers ids and writes a shard each time `shard_tokens` of them are ready."""

    def __init__(
        self, out_dir: Path, shard_tokens: int, dtype: np.dtype, vocab_size: int, fingerprint: bytes
    ):
        self.out_dir, self.shard_tokens, self.dtype = out_dir, shard_tokens, dtype
        self.vocab_size, self.fingerprint = vocab_size, fingerprint
        self.pending: list[np.ndarray] = []
        self.pending_count = 0
        self.written: list[Path] = []

    def add(self, ids: list[int]) -> None:
        array = np.asarray(ids, dtype=self.dtype)
        self.pending.append(array)
        self.pending_count += len(array)
        while self.pending_count >= self.shard_tokens:
            stream = np.concatenate(self.pending)
            self.write(stream[: self.shard_tokens])
            rest = stream[self.shard_tokens :]
            self.pending, self.pending_count = [rest], len(rest)

    def finish(self) -> list[Path]:
        if self.pending_count or not self.written:
            self.write(np.concatenate(self.pending) if self.pending else np.empty(0, self.dtype))
        return self.written

    def write(self, ids: np.ndarray) -> None:
        header = ShardHeader(SHARD_VERSION, self.dtype, self.vocab_size, len(ids), self.fingerprint)
        path = self.out_dir / SHARD_PATTERN.format(len(self.written))
        atomic_write(path, lambda temporary: temporary.write_bytes(header.pack() + ids.tobytes()))
        self.written.append(path)


def read_token_shard(path: str | Path) -> tuple[ShardHeader, np.ndarray]:
    """A shard's header and its ids (a read-only memory map), after checking the header against the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as file:
            raw = file.read(SHARD_HEADER.size)
    except FileNotFoundError:
        raise GlossaError(f"no such token shard: {path}") from None
    except OSError as error:
        raise GlossaError(f"cannot read {path}: {error.strerror or error}") from None
    if len(raw) < SHARD_HEADER.size:
        raise GlossaError(f"{path} is {size} bytes, shorter than a token shard header ({SHARD_HEADER.size})")
    magic, version, itemsize, vocab_size, token_count, fingerprint = SHARD_HEADER.unpack(raw)
    if magic != SHARD_MAGIC:
        raise GlossaError(
            f"{path} is not a glossa token shard (it starts with {magic!r}, not {SHARD_MAGIC!r})"
        )
    if version != SHARD_VERSION:
        raise GlossaError(
            f"{path} is token shard version {version}; this glossa reads version {SHARD_VERSION}"
        )
    if itemsize not in (2, 4):
        raise GlossaError(f"{path}: the header says {itemsize} bytes per id; shards hold 2 or 4")
    dtype = shard_dtype(vocab_size)
    if dtype.itemsize != itemsize:
        raise GlossaError(f"{path}: {itemsize} bytes per id does not match vocabulary size {vocab_size}")
    expected = SHARD_HEADER.size + token_count * itemsize
    if size != expected:
        raise GlossaError(
            f"{path} is {size} bytes but its header promises {token_count} ids ({expected} bytes): "
            "the shard is truncated or damaged; write it again"
        )
    header = ShardHeader(version, dtype, vocab_size, token_count, fingerprint)
    if token_count == 0:
        return header, np.empty(0, dtype)
    return header, np.memmap(path, dtype=dtype, mode="r", offset=SHARD_HEADER.size, shape=(token_count,))


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int], None]]:
    """A count of encoded documents on stderr (Rich), or a no-op."""
    if not enabled:
        yield lambda count: None
        return
    columns = (SpinnerColumn(), TextColumn("encoding documents: {task.completed:,}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("encode", total=None)
        yield lambda count: bar.advance(task, count)

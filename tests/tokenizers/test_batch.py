"""Batch encoding in worker processes, token shards on disk, and tokenizer fingerprints."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import numpy as np
import pytest

from glossa.errors import GlossaError
from glossa.tokenizers.base import Tokenizer
from glossa.tokenizers.batch import (
    SHARD_HEADER,
    encode_in_processes,
    read_token_shard,
    tokenizer_fingerprint,
    write_token_shards,
)
from glossa.tokenizers.bpe import ByteLevelBPE
from glossa.tokenizers.loading import load_tokenizer

MIXED = ["Hello world 123", "", "東京 👨‍👩‍👧", "  spaces\n\n", "<|im_end|> plain"]


@pytest.fixture(scope="module")
def smollm2():
    return load_tokenizer("smollm2")


@pytest.fixture(scope="module")
def documents(tinyshakespeare_path) -> list[str]:
    text = tinyshakespeare_path.read_text(encoding="utf-8")[:120_000]
    return [*text.split("\n\n"), *MIXED]


def test_processes_give_exactly_the_same_ids(smollm2, documents):
    expected = smollm2.encode_batch(documents, processes=1)
    assert smollm2.encode_batch(documents, processes=2) == expected
    # chunk_chars bounds the pickled chunks of spawned workers (the forked path cuts ranges instead)
    assert encode_in_processes(smollm2, documents[:200], 2, chunk_chars=500) == expected[:200]
    assert encode_in_processes(smollm2, [], 2) == []
    with pytest.raises(GlossaError, match="processes must be at least 1"):
        encode_in_processes(smollm2, documents, 0)


def test_forked_encoding_keeps_order_and_restores_the_collector(smollm2, documents):
    import gc

    for texts in (documents[:3], documents[:2], documents):
        assert encode_in_processes(smollm2, texts, 3) == [smollm2.encode(text) for text in texts]
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_shards_round_trip(smollm2, documents, tmp_path):
    separator = smollm2.special_tokens["<|endoftext|>"]
    stream = [token for ids in smollm2.encode_batch(documents) for token in (*ids, separator)]
    paths = write_token_shards(smollm2, documents, tmp_path, shard_tokens=10_000, processes=2, progress=False)
    assert [path.name for path in paths[:2]] == ["tokens_000000.bin", "tokens_000001.bin"]
    assert len(paths) == -(-len(stream) // 10_000)
    read_back = []
    for path in paths:
        header, ids = read_token_shard(path)
        assert header.dtype == np.uint16 and ids.dtype == np.uint16
        assert header.vocab_size == 49152 and header.token_count == len(ids) <= 10_000
        assert header.fingerprint == tokenizer_fingerprint(smollm2)
        assert path.stat().st_size == SHARD_HEADER.size + 2 * len(ids)
        read_back.extend(ids.tolist())
    assert read_back == stream
    assert smollm2.decode(read_back[: len(stream)]).startswith(documents[0] + "<|endoftext|>")


class CodePoints(Tokenizer):
    """One id per code point: a vocabulary of 1,114,112 ids, so shards need uint32."""

    name = "code-points"
    special_tokens: dict[str, int] = {}  # noqa: RUF012
    eos_id = 0

    @property
    def vocab_size(self) -> int:
        return 0x110000

    def encode(self, text: str, *, allowed_special="none", add_special_tokens=False) -> list[int]:
        return [ord(char) for char in text]

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        return "".join(map(chr, ids))

    def id_to_token(self, token_id: int) -> str:
        return chr(token_id)

    def token_to_id(self, token: str) -> int | None:
        return ord(token) if len(token) == 1 else None

    def token_bytes(self, token_id: int) -> bytes:
        return chr(token_id).encode("utf-8", "surrogatepass")


def test_large_vocabularies_get_uint32(tmp_path):
    tokenizer = CodePoints()
    (path,) = write_token_shards(tokenizer, ["a😀", "b"], tmp_path, progress=False)
    header, ids = read_token_shard(path)
    assert header.dtype == np.uint32 and ids.tolist() == [97, 0x1F600, 0, 98, 0]


def test_bos_before_documents_when_there_is_no_eos(tmp_path):
    from glossa.tokenizers.bytelevel import bytes_to_unicode

    vocab = ["<s>", *sorted(bytes_to_unicode().values())]
    tokenizer = ByteLevelBPE(vocab, [], special_tokens={"<s>": 0}, bos_id=0)
    (path,) = write_token_shards(tokenizer, ["a", "bc"], tmp_path, progress=False)
    ids = read_token_shard(path)[1].tolist()
    assert ids == [0, tokenizer.token_to_id("a"), 0, tokenizer.token_to_id("b"), tokenizer.token_to_id("c")]
    no_separator = ByteLevelBPE(vocab[1:], [])
    with pytest.raises(GlossaError, match="neither an EOS nor a BOS"):
        write_token_shards(no_separator, ["a"], tmp_path / "other", progress=False)


def test_existing_shards_are_kept_unless_overwritten(smollm2, tmp_path):
    write_token_shards(smollm2, ["one two three"] * 50, tmp_path, shard_tokens=20, progress=False)
    before = sorted(tmp_path.glob("tokens_*.bin"))
    with pytest.raises(GlossaError, match="already holds"):
        write_token_shards(smollm2, ["x"], tmp_path, progress=False)
    assert sorted(tmp_path.glob("tokens_*.bin")) == before
    (path,) = write_token_shards(smollm2, ["x"], tmp_path, progress=False, overwrite=True)
    assert sorted(tmp_path.glob("tokens_*.bin")) == [path]  # stale shards of the old run are gone


def test_damaged_shards_are_refused(smollm2, tmp_path):
    (path,) = write_token_shards(smollm2, ["some text"] * 10, tmp_path / "good", progress=False)
    data = path.read_bytes()
    cases = {
        "not a glossa token shard": b"NOTASHRD" + data[8:],
        "shorter than a token shard header": data[:40],
        "truncated or damaged": data[:-1],
        "version 9": data[:8] + (9).to_bytes(4, "little") + data[12:],
        "4 bytes per id does not match": data[:12] + (4).to_bytes(4, "little") + data[16:],
        "bytes per id; shards hold 2 or 4": data[:12] + (3).to_bytes(4, "little") + data[16:],
    }
    for message, damaged in cases.items():
        bad = tmp_path / "bad.bin"
        bad.write_bytes(damaged)
        with pytest.raises(GlossaError, match=message):
            read_token_shard(bad)
    with pytest.raises(GlossaError, match="no such token shard"):
        read_token_shard(tmp_path / "absent.bin")


def test_fingerprint_tracks_what_decides_the_ids(smollm2):
    fingerprint = tokenizer_fingerprint(smollm2)
    assert len(fingerprint) == 32
    assert tokenizer_fingerprint(pickle.loads(pickle.dumps(smollm2))) == fingerprint
    fewer_merges = ByteLevelBPE(smollm2.vocab, smollm2.merges[:-1], pretokenizer="smollm")
    other_pretokenizer = ByteLevelBPE(smollm2.vocab, smollm2.merges, pretokenizer="gpt2")
    assert tokenizer_fingerprint(fewer_merges) != tokenizer_fingerprint(other_pretokenizer)
    assert fingerprint not in {tokenizer_fingerprint(fewer_merges), tokenizer_fingerprint(other_pretokenizer)}

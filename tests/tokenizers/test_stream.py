"""Streaming decode: any cut of an id sequence, fed piece by piece, gives exactly the whole decode."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.errors import GlossaError
from glossa.tokenizers.bpe_train import train_bpe
from glossa.tokenizers.stream import StreamDecoder

SPECIALS = ["<|endoftext|>", "<|im_end|>"]


@pytest.fixture(scope="module")
def bpe():
    texts = ["the cat sat on the mat, état, 数字, 👍🏽👍 ça va"] * 3
    return train_bpe(texts, 300, special_tokens=SPECIALS, progress=False)


def streamed(bpe, ids, cuts, skip_special_tokens=False):
    """Feed `ids` to a StreamDecoder in chunks cut at `cuts`; return every emitted piece, flush included."""
    stream = StreamDecoder(bpe, skip_special_tokens=skip_special_tokens)
    bounds = sorted({0, len(ids), *(cut % (len(ids) + 1) for cut in cuts)})
    pieces = [stream.feed_many(ids[start:end]) for start, end in pairwise(bounds)]
    return [*pieces, stream.flush()]


@settings(max_examples=300, deadline=None)
@given(st.data(), st.lists(st.integers(0, 100), max_size=10), st.booleans())
def test_any_split_of_any_ids_equals_whole_decode(bpe, data, cuts, skip):
    ids = data.draw(st.lists(st.integers(0, bpe.vocab_size - 1), max_size=40))
    assert "".join(streamed(bpe, ids, cuts, skip)) == bpe.decode(ids, skip_special_tokens=skip)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_one_id_at_a_time_never_emits_half_a_character(bpe, text):
    stream = StreamDecoder(bpe)
    pieces = [stream.feed(token_id) for token_id in bpe.encode(text)]
    assert "\ufffd" not in "".join(pieces) or "\ufffd" in text
    assert "".join(pieces) + stream.flush() == text


def test_pending_bytes_wait_and_dangling_bytes_flush_as_replacement(bpe):
    ids = bpe.encode("😀")  # not in the training text: no single token for it
    assert len(ids) > 1
    stream = StreamDecoder(bpe)
    assert [stream.feed(token_id) for token_id in ids[:-1]] == [""] * (len(ids) - 1)
    assert stream.flush() == "\ufffd"
    assert stream.feed_many(ids) == "😀"


def test_special_token_flushes_and_emits_its_text(bpe):
    end = bpe.special_tokens["<|im_end|>"]
    ids = [*bpe.encode("é")[:1], end, *bpe.encode("ok")]
    assert StreamDecoder(bpe).feed_many(ids) == "\ufffd<|im_end|>ok"
    assert StreamDecoder(bpe, skip_special_tokens=True).feed_many(ids) == "\ufffdok"


def test_bad_id_is_a_glossa_error(bpe):
    with pytest.raises(GlossaError, match="outside the vocabulary"):
        StreamDecoder(bpe).feed(10_000)

"""Round trips (hypothesis): any Unicode text survives encode → decode, any id sequence decodes."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glossa.tokenizers.bpe import ByteLevelBPE
from glossa.tokenizers.bpe_train import train_bpe
from glossa.tokenizers.pretokenize import PRETOKENIZER_NAMES

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@pytest.fixture(scope="module")
def bpe(tinyshakespeare_path):
    text = tinyshakespeare_path.read_text(encoding="utf-8")[:300_000]
    return train_bpe([text, "数字 123 émoji 👍🏽"], 1024, special_tokens=SPECIALS, progress=False)


@pytest.fixture(scope="module")
def by_pretokenizer(bpe):
    return {
        name: ByteLevelBPE(bpe.vocab, bpe.merges, pretokenizer=name, special_tokens=bpe.special_tokens)
        for name in PRETOKENIZER_NAMES
    }


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_decode_inverts_encode(by_pretokenizer, text):
    for tokenizer in by_pretokenizer.values():
        assert tokenizer.decode(tokenizer.encode(text)) == text


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(["<|im_end|>", "<|endoftext|>", "<|im", "|>", "a", " ", "é", "\n"])).map("".join)
)
def test_special_token_text_is_plain_text_unless_allowed(bpe, text):
    special_ids = set(bpe.special_tokens.values())
    assert special_ids.isdisjoint(bpe.encode(text))
    assert bpe.decode(bpe.encode(text)) == text
    allowed = bpe.encode(text, allowed_special="all")
    assert bpe.decode(allowed) == text
    assert sum(token_id in special_ids for token_id in allowed) == text.count("<|im_end|>") + text.count(
        "<|endoftext|>"
    )


def reference_decode(bpe, ids, skip_special_tokens):
    """Decode as documented: runs of ordinary tokens as bytes, each special token as its text (or nothing)."""
    parts, run = [], b""
    for token_id in ids:
        if bpe.is_special(token_id):
            parts.append(run.decode("utf-8", "replace"))
            run = b""
            parts.append("" if skip_special_tokens else bpe.id_to_token(token_id))
        else:
            run += bpe.token_bytes(token_id)
    return "".join([*parts, run.decode("utf-8", "replace")])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(0, 1023)))
def test_any_id_sequence_decodes(bpe, ids):
    for skip in (False, True):
        assert bpe.decode(ids, skip_special_tokens=skip) == reference_decode(bpe, ids, skip)


def test_decode_of_a_cut_character_is_a_replacement_character(bpe):
    ids = bpe.encode("👍")
    assert len(ids) > 1
    assert bpe.decode(ids[:-1]) == "\ufffd"
    assert bpe.decode(ids) == "👍"


def test_token_views_agree(bpe):
    for token_id in range(bpe.vocab_size):
        token = bpe.id_to_token(token_id)
        assert bpe.token_to_id(token) == token_id
        if bpe.is_special(token_id):
            assert bpe.token_bytes(token_id) == b""
            assert bpe.decode([token_id]) == token
    assert bpe.vocab_size == 1024


def test_pickles_for_worker_processes(bpe):
    text = "To be, or not to be, that is the question: 123 <|im_end|>"
    copy = pickle.loads(pickle.dumps(bpe))
    assert copy.encode(text) == bpe.encode(text)
    assert copy.encode(text, allowed_special="all") == bpe.encode(text, allowed_special="all")

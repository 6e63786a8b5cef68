"""all-MiniLM-L6-v2: glossa's sentence embeddings against sentence-transformers on the same folder, and the
encoder's token states against the BertModel inside it."""

import os

import pytest
import torch

from glossa.artifacts import minilm_dir
from glossa.models.embeddings import (
    cosine_similarity_matrix,
    euclidean_distance_matrix,
    load_embedder,
    pool,
    sentence_transformers_recipe,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SENTENCES = [
    "A cat sits on the mat.",
    "A dog is playing in the park.",
    "The invoice is due at the end of the month.",
    "Quantum computers use qubits instead of bits.",
    "I love eating fresh strawberries in summer!",
    "The stock market fell sharply on Monday.",
    "Paris is the capital of France.",
    "How do I reset my password?",
    "Transformers use self-attention to mix information between tokens.",
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "Das ist ein deutscher Satz mit Umlauten: Größe, Übung.",
    "¿Dónde está la biblioteca?",
    "東京は日本の首都です。",
    "Emojis 🤖🚀 and symbols © ® ™ are text too.",
    "x = 42; y = x ** 2 # compute the square",
    "short",
    "",
    "An unusually long sentence that keeps going, " * 40
    + "and is cut at the model's maximum sequence length.",
    "The meeting has been moved to 3:30 PM on Thursday, 14 March 2024.",
]


@pytest.fixture(scope="module")
def embedder():
    return load_embedder("minilm")


@pytest.fixture(scope="module")
def reference():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir()), device="cpu")


def test_recipe_is_read_from_the_sentence_transformers_files():
    assert sentence_transformers_recipe(minilm_dir()) == {
        "pooling": "mean",
        "normalize": True,
        "max_length": 256,
    }


def test_embeddings_match_sentence_transformers(embedder, reference):
    ours = embedder.embed(SENTENCES)
    theirs = torch.from_numpy(reference.encode(SENTENCES, convert_to_numpy=True))
    assert ours.shape == theirs.shape == (20, 384)
    cosines = torch.nn.functional.cosine_similarity(ours, theirs, dim=-1)
    assert cosines.min().item() >= 0.9999, cosines
    assert torch.allclose(ours.norm(dim=-1), torch.ones(20), atol=1e-5)


def test_token_states_match_the_bert_model(embedder, reference):
    bert = reference[0].auto_model.eval()
    encoded = reference.tokenize(SENTENCES[:6])
    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    assert [embedder.token_ids(text) for text in SENTENCES[:6]] == [
        row[m.bool()].tolist() for row, m in zip(ids, mask, strict=True)
    ]
    with torch.no_grad():
        ours = embedder.model(ids, attention_mask=mask).last_hidden_state
        theirs = bert(input_ids=ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    assert (ours[real] - theirs[real]).abs().max().item() <= 1e-4


def test_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(pool(hidden, mask, "mean"), torch.tensor([[2.0, 3.0]]))
    assert torch.equal(pool(hidden, mask, "max"), torch.tensor([[3.0, 4.0]]))
    assert torch.equal(pool(hidden, mask, "cls"), torch.tensor([[1.0, 2.0]]))


def test_similar_meanings_are_closer(embedder):
    vectors = embedder.embed(["a cat", "a dog", "an invoice"])
    cosine, distance = cosine_similarity_matrix(vectors), euclidean_distance_matrix(vectors)
    assert cosine[0, 1] > cosine[0, 2] and distance[0, 1] < distance[0, 2]
    assert torch.allclose(distance, (2 - 2 * cosine).clamp(min=0).sqrt(), atol=1e-4)  # unit vectors

"""Cosine similarity and Euclidean distance between embeddings, against torch's own functions."""

import torch

from glossa.models.embeddings import cosine_similarity_matrix, euclidean_distance_matrix


def test_cosine_similarity_matrix_matches_torch():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 16, generator=generator), torch.randn(7, 16, generator=generator)
    expected = torch.nn.functional.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1)
    torch.testing.assert_close(cosine_similarity_matrix(a, b), expected)
    torch.testing.assert_close(torch.diagonal(cosine_similarity_matrix(a)), torch.ones(5))


def test_euclidean_distance_matrix_matches_cdist():
    generator = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 16, generator=generator), torch.randn(7, 16, generator=generator)
    torch.testing.assert_close(euclidean_distance_matrix(a, b), torch.cdist(a, b), rtol=1e-5, atol=1e-5)
    assert torch.all(torch.diagonal(euclidean_distance_matrix(a)) == 0)

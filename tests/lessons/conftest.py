"""Fixtures for the lesson tests: SmolLM2 and its tokenizer, loaded once per session."""

import pytest


@pytest.fixture(scope="session")
def smollm2_pair():
    from glossa.models.loading import load_model
    from glossa.tokenizers.loading import load_tokenizer

    return load_model("smollm2"), load_tokenizer("smollm2")

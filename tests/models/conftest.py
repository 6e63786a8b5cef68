"""Shared fixtures for the model tests: the real models are loaded once per session."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def smollm2():
    """glossa's SmolLM2-135M-Instruct, from the packaged Q4_1 GGUF (float32 weights + kept Q4_1 blocks)."""
    from glossa.models.loading import load_model

    return load_model("smollm2")


@pytest.fixture(scope="session")
def ring():
    """The 8-Gaussian ring the generative models learn: 8192 training points and 2000 held out."""
    from glossa.models.toy_data import toy_samples

    points = toy_samples("ring", 8192 + 2000, seed=0)
    return points[:8192], points[8192:]

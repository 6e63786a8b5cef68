"""Shared fixtures for the server tests: SmolLM2 and MiniLM load once per session into one `ModelPool`; each
test module builds the app it needs around that pool (cheap), and one uvicorn server on a free loopback port
serves the tests that talk real HTTP. Generation stays at a few tokens; the engine runs on one thread."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

API_KEY = "test-key-alpha"
OTHER_KEY = "test-key-beta"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="session")
def pool():
    from glossa.serve.config import ServeConfig
    from glossa.serve.models import ModelPool

    models = ModelPool.load(
        ServeConfig(
            models=("smollm2",), embedding_models=("minilm",), max_num_seqs=8, max_model_len=512, threads=1
        )
    )
    yield models
    models.close()


@pytest.fixture(scope="session")
def make_app(pool):
    """An app over the shared pool, with config overrides (API keys on by default)."""
    from glossa.serve.app import create_app
    from glossa.serve.config import ServeConfig

    def make(**overrides):
        settings = dict(
            api_keys=(API_KEY, OTHER_KEY), max_tokens=32, max_n=4, max_num_seqs=8, max_model_len=512
        )
        settings.update(overrides)
        return create_app(ServeConfig(**settings), models=pool)

    return make


@pytest.fixture(scope="session")
def server(make_app):
    """uvicorn in a background thread, on a free loopback port."""
    from glossa.serve.server import ServerThread

    with ServerThread(make_app()) as running:
        yield running


@pytest.fixture(scope="session")
def client(make_app):
    """A TestClient (no port) over a default app."""
    from fastapi.testclient import TestClient

    with TestClient(make_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def api_key():
    return API_KEY


@pytest.fixture(scope="session")
def auth():
    """Headers that carry a valid key."""
    return dict(AUTH)


@pytest.fixture(scope="session")
def engine_idle(pool):
    """A function: True when the SmolLM2 engine has nothing running and every KV block is free."""
    return lambda: engine_is_idle(pool)


@pytest.fixture(scope="session")
def openai_error():
    return assert_openai_error


def engine_is_idle(pool) -> bool:
    """Nothing running or waiting, every KV block back in the free pool."""
    served = pool.get("smollm2")
    engine = served.engine
    return (
        not engine.has_unfinished_requests()
        and served.loop.num_requests == 0
        and engine.cache.num_free_blocks == engine.cache.num_blocks
    )


def assert_openai_error(response, status: int) -> dict:
    """The status, and the body in OpenAI's error shape."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    return error

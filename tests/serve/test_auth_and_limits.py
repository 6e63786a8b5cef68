"""API keys on every model endpoint (401 without or with a wrong one; /health open), per-key rate limits
(429 with Retry-After), back-pressure (503 with Retry-After), and keys never in the access log."""

import logging

import pytest
from fastapi.testclient import TestClient

from glossa.serve.limits import RateLimiter, TokenBucket

MODEL_ENDPOINTS = [
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/smollm2", None),
    ("POST", "/v1/completions", {"model": "smollm2", "prompt": "x", "max_tokens": 1}),
    ("POST", "/v1/chat/completions", {"model": "smollm2", "messages": [{"role": "user", "content": "x"}]}),
    ("POST", "/v1/embeddings", {"model": "minilm", "input": "x"}),
    ("POST", "/tokenize", {"model": "smollm2", "prompt": "x"}),
    ("POST", "/detokenize", {"model": "smollm2", "tokens": [1]}),
]


@pytest.mark.parametrize(("method", "path", "body"), MODEL_ENDPOINTS)
@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic dGVzdA==", "Bearer "])
def test_401_without_a_valid_key(client, openai_error, method, path, body, header):
    headers = {"Authorization": header} if header else {}
    error = openai_error(client.request(method, path, json=body, headers=headers), 401)
    assert error["type"] == "authentication_error"


def test_health_and_metrics_are_open(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert "glossa:kv_cache_usage_perc" in client.get("/metrics").text


def test_request_rate_limit_is_429_with_retry_after(make_app, auth, openai_error):
    with TestClient(make_app(requests_per_minute=2)) as limited:
        for _ in range(2):
            assert (
                limited.post("/tokenize", json={"model": "smollm2", "prompt": "x"}, headers=auth).status_code
                == 200
            )
            assert limited.get("/v1/models", headers=auth).status_code == 200
        body = {"model": "smollm2", "prompt": "x", "max_tokens": 1}
        assert limited.post("/v1/completions", json=body, headers=auth).status_code == 200
        assert limited.post("/v1/completions", json=body, headers=auth).status_code == 200
        refused = limited.post("/v1/completions", json=body, headers=auth)
        error = openai_error(refused, 429)
        assert error["type"] == "rate_limit_error" and int(refused.headers["Retry-After"]) >= 1
        other = {"Authorization": "Bearer test-key-beta"}  # buckets are per key
        assert limited.post("/v1/completions", json=body, headers=other).status_code == 200
        assert 'glossa:request_rejected_total{status="429"} 1.0' in limited.get("/metrics").text


def test_token_rate_limit(make_app, auth, openai_error):
    with TestClient(make_app(tokens_per_minute=40)) as limited:
        body = {"model": "smollm2", "prompt": "x", "max_tokens": 8, "n": 4, "ignore_eos": True}
        first = limited.post("/v1/completions", json=body, headers=auth)  # ~34 charged, all of it used
        assert first.status_code == 200 and first.json()["usage"]["completion_tokens"] == 32
        refused = limited.post("/v1/completions", json=body, headers=auth)
        openai_error(refused, 429)
        assert "Retry-After" in refused.headers
        too_big = openai_error(
            limited.post("/v1/completions", json={**body, "max_tokens": 16}, headers=auth), 429
        )
        assert "40 tokens per minute" in too_big["message"]


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])  # one per second
    assert bucket.wait_for(60) == 0
    bucket.take(60)
    assert bucket.wait_for(1) == pytest.approx(1.0)
    now[0] = 30
    assert bucket.wait_for(30) == 0 and bucket.wait_for(31) == pytest.approx(1.0)
    limiter = RateLimiter(tokens_per_minute=100, clock=lambda: now[0])
    limiter.admit("k", 100)
    limiter.refund("k", 40)
    limiter.admit("k", 40)


def test_back_pressure_is_503_with_retry_after(make_app, auth, openai_error, pool):
    loop = pool.get("smollm2").loop
    with TestClient(make_app(max_num_seqs=1, max_queue=0)) as small:
        loop._sinks["placeholder"] = None  # one request "in flight" fills this app's capacity of 1
        try:
            refused = small.post("/v1/completions", json={"model": "smollm2", "prompt": "x"}, headers=auth)
        finally:
            loop._sinks.pop("placeholder")
        error = openai_error(refused, 503)
        assert error["type"] == "overloaded_error" and refused.headers["Retry-After"] == "1"


def test_access_log_has_key_hash_never_the_key(client, auth, api_key, caplog):
    with caplog.at_level(logging.INFO, logger="glossa.serve.access"):
        client.post("/tokenize", json={"model": "smollm2", "prompt": "x"}, headers=auth)
    lines = [r.getMessage() for r in caplog.records if r.name == "glossa.serve.access"]
    assert any('"path": "/tokenize"' in line and '"status": 200' in line for line in lines)
    assert all(api_key not in line for line in lines)
    assert any('"key": "' in line and '"model": "smollm2"' in line for line in lines)

"""/metrics speaks vLLM's names (prefixed `glossa:`): after one request, the latency histograms have counted
it, the token counters equal the response's usage, the success counter has its finish reason, and the
engine gauges and prefix-cache counters are there. Each app has its own registry."""

import re


def metric(text: str, name: str) -> float:
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if re.match(rf"{re.escape(name)}[{{ ]", line)
    ]
    return sum(values)


def test_metrics_after_one_request(make_app, auth):
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as client:
        before = client.get("/metrics").text
        assert metric(before, "glossa:generation_tokens_total") == 0  # a fresh app, a fresh registry
        body = {
            "model": "smollm2",
            "prompt": "The sea is",
            "max_tokens": 3,
            "temperature": 0,
            "ignore_eos": True,
        }
        usage = client.post("/v1/completions", json=body, headers=auth).json()["usage"]
        text = client.get("/metrics").text
    assert metric(text, "glossa:prompt_tokens_total") == usage["prompt_tokens"]
    assert metric(text, "glossa:generation_tokens_total") == usage["completion_tokens"]
    for histogram in ("time_to_first_token", "e2e_request_latency", "request_queue_time"):
        assert metric(text, f"glossa:{histogram}_seconds_count") == 1
    assert metric(text, "glossa:inter_token_latency_seconds_count") == usage["completion_tokens"] - 1
    assert 'glossa:request_success_total{finished_reason="length",model_name="smollm2"' in text  # ignore_eos
    for gauge in (
        "num_requests_running",
        "num_requests_waiting",
        "kv_cache_usage_perc",
        "prefix_cache_hit_rate",
    ):
        assert f'glossa:{gauge}{{model_name="smollm2"}}' in text
    assert metric(text, "glossa:prefix_cache_queries_total") >= 0 and "glossa:prefix_cache_hits_total" in text

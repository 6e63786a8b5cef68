"""The web router's JSON and pages against the real SmolLM2, without a network port (httpx ASGITransport).

The app here is a bare FastAPI app with only this router and the session's `ModelPool` as
`app.state.models` (the contract: `get(name)` with `.model`, `.tokenizer`, `.engine`; `names()`), so these
tests pin the router alone. The next-token distribution is
checked against an independent nucleus computed from the raw logits with plain sorting.
"""

from __future__ import annotations

import asyncio
import json
import math

import httpx
import pytest
import torch
from fastapi import FastAPI

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def smollm2_pair(pool):
    served = pool.get("smollm2")
    return served.model, served.tokenizer


@pytest.fixture(scope="module")
def call(pool):
    from glossa.serve.web.routes import router

    app = FastAPI()
    app.include_router(router)
    app.state.models = pool  # the server's ModelPool (tests/serve/conftest.py), without the rest of the app

    async def request(method: str, path: str, **kwargs) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return lambda method, path, **kwargs: asyncio.run(request(method, path, **kwargs))


def next_token(call, **body) -> dict:
    response = call("POST", "/v1/next_token", json={"model": "smollm2", "prompt": PROMPT, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_raw_distribution_is_the_models_softmax_and_paris_leads(call, smollm2_pair):
    model, tokenizer = smollm2_pair
    result = next_token(call, top_n=5)
    with torch.inference_mode():
        logits = model(torch.tensor([tokenizer.encode(PROMPT)])).logits[0, -1].float()
    expected = logits.softmax(-1).topk(5)
    assert [t["id"] for t in result["tokens"]] == expected.indices.tolist()
    assert [t["raw_prob"] for t in result["tokens"]] == pytest.approx(expected.values.tolist(), rel=1e-5)
    assert result["tokens"][0]["text"] == " Paris"
    assert result["prompt_tokens"] == len(tokenizer.encode(PROMPT))
    assert result["kept"] == model.config.vocab_size  # nothing truncates at T = 1 without filters


def test_top_p_keeps_the_smallest_nucleus_and_renormalises(call, smollm2_pair):
    model, tokenizer = smollm2_pair
    temperature, top_p = 0.8, 0.9
    result = next_token(call, temperature=temperature, top_p=top_p, top_n=20)
    with torch.inference_mode():
        logits = model(torch.tensor([tokenizer.encode(PROMPT)])).logits[0, -1].double()
    probs = (logits / temperature).softmax(-1).sort(descending=True).values
    nucleus = int((probs.cumsum(-1) < top_p).sum()) + 1  # smallest prefix reaching top_p
    assert result["kept"] == nucleus
    kept_mass = float(probs[:nucleus].sum())
    for token, p in zip(result["tokens"][:nucleus], probs[:nucleus], strict=False):
        assert token["prob"] == pytest.approx(float(p) / kept_mass, rel=1e-4)
    assert all(token["prob"] == 0 for token in result["tokens"][nucleus:])


def test_temperature_reshapes_and_zero_is_greedy(call):
    cold, warm = next_token(call, temperature=0.5), next_token(call, temperature=2.0)
    assert cold["entropy_bits"] < warm["entropy_bits"]
    assert cold["tokens"][0]["prob"] > warm["tokens"][0]["prob"]
    greedy = next_token(call, temperature=0)
    assert greedy["kept"] == 1 and greedy["tokens"][0]["prob"] == 1.0
    top_k = next_token(call, top_k=3, top_n=5)
    assert top_k["kept"] == 3 and math.isclose(sum(t["prob"] for t in top_k["tokens"]), 1.0, rel_tol=1e-5)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"prompt": PROMPT, "top_p": 1.5}, 400, "top_p"),
        ({"prompt": PROMPT, "temperature": -1}, 400, "temperature"),
        ({"prompt": PROMPT, "top_k": "many"}, 400, "top_k"),
        ({"prompt": PROMPT, "top_n": 0}, 400, "top_n"),
        ({"prompt": PROMPT, "stream": True}, 400, "stream"),
        ({"prompt": ""}, 400, "prompt"),
        ({"prompt": PROMPT * 400}, 400, "prompt"),
        ({"top_p": 0.5}, 400, "prompt"),
        ({"prompt": PROMPT, "top_k": 10**30}, 400, "top_k"),
        ({"prompt": PROMPT, "temperature": 10**400}, 400, "temperature"),
        ({"prompt": "caf\ud800"}, 400, "prompt"),
        ({"prompt": PROMPT, "model": "gpt-9"}, 404, "gpt-9"),
        ({"prompt": PROMPT, "model": "minilm"}, 400, "decoder"),
        ([1, 2, 3], 400, "JSON object"),
    ],
)
def test_bad_requests_get_openai_errors(call, body, status, fragment):
    raw = json.dumps(body).encode("ascii")  # ASCII escapes carry a lone surrogate as a client could send it
    response = call("POST", "/v1/next_token", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert fragment in error["message"]


def test_malformed_json_is_a_400(call):
    response = call(
        "POST", "/v1/next_token", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_terms_json_locates_code_in_the_package(call):
    from glossa.serve.web.glossary_data import PACKAGE_ROOT

    data = call("GET", "/glossary/terms.json").json()
    by_slug = {term["slug"]: term for term in data["terms"]}
    assert len(by_slug) > 250 and data["sections"][0]["number"] == 1
    top_p = by_slug["top-p"]
    assert top_p["location"].startswith("glossa/infer/logits.py:")
    assert top_p["live_demo"] == "next-token" and by_slug["byte-pair-encoding"]["live_demo"] == "tokens"
    located = [term for term in data["terms"] if term["location"]]
    assert len(located) > 100
    for term in located:
        path, line = term["location"].rsplit(":", 1)
        lines = (PACKAGE_ROOT.parent / path).read_text(encoding="utf-8").splitlines()
        assert 1 <= int(line) <= len(lines), term["slug"]


def test_source_view_shows_the_definition_and_refuses_anything_else(call):
    page = call("GET", "/glossary/source/top-p")
    assert page.status_code == 200 and "def apply_top_k_top_p_min_p" in page.text
    assert "glossa/infer/logits.py" in page.text
    for slug in ("no-such-term", "cuda"):  # unknown, no code yet
        response = call("GET", f"/glossary/source/{slug}")
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found_error"
    traversal = call("GET", "/glossary/source/..%2F..%2F..%2Fpyproject.toml")
    assert traversal.status_code == 404 and "[project]" not in traversal.text


def test_pages_and_their_assets_are_served(call):
    for path, script in (("/", "chat.js"), ("/chat", "chat.js"), ("/glossary", "glossary.js")):
        page = call("GET", path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f"/web/{script}" in page.text and "/web/common.js" in page.text
    for name, kind in (("chat.js", "javascript"), ("common.js", "javascript"), ("style.css", "css")):
        asset = call("GET", f"/web/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    assert call("GET", "/web/routes.py").status_code == 404
    assert call("GET", "/web/..%2Froutes.py").status_code == 404

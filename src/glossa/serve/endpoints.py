"""The other routes: models, embeddings, tokenize/detokenize (vLLM's extras), health and metrics.

    GET  /v1/models          the names a request may use (aliases included), OpenAI's list shape
    POST /v1/embeddings      sentence embeddings from an encoder (MiniLM): float lists or base64 float32
    POST /tokenize           prompt or chat messages → token ids (with the chat template), count, context
    POST /detokenize         token ids → text
    GET  /health             200 when serving, 503 while draining; never needs a key
    GET  /metrics            Prometheus text (open, like vLLM's, for the scraper)

Encoding runs in a worker thread (`run_in_threadpool`): a batch of embeddings takes milliseconds to seconds
and must not stall the event loop that streams everyone else's tokens.
"""

from __future__ import annotations

import base64

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from glossa.serve.errors import APIError
from glossa.serve.models import LoadingPool
from glossa.serve.protocol import DetokenizeRequest, EmbeddingRequest, TokenizeRequest
from glossa.serve.sampling import chat_prompt_ids, checked_text
from glossa.serve.state import require_api_key, serve_state

router = APIRouter()
keyed = [Depends(require_api_key)]


@router.get("/v1/models", dependencies=keyed)
async def list_models(request: Request) -> dict:
    state = serve_state(request)
    data = []
    for name in state.models.names():
        served = state.models.get(name)
        data.append({"id": name, "object": "model", "created": served.created, "owned_by": "glossa"})
    return {"object": "list", "data": data}


@router.get("/v1/models/{name:path}", dependencies=keyed)
async def get_model(name: str, request: Request) -> dict:
    served = serve_state(request).model(request, name)
    return {"id": name, "object": "model", "created": served.created, "owned_by": "glossa"}


@router.post("/v1/embeddings", dependencies=keyed)
async def embeddings(body: EmbeddingRequest, request: Request) -> dict:
    state = serve_state(request)
    served = state.model(request, body.model, body.user)
    if served.embedder is None:
        raise APIError(400, f"{body.model} is not an embedding model: use one of the encoders", param="model")
    inputs = [body.input] if isinstance(body.input, str) else body.input
    if not inputs or (inputs and all(isinstance(item, int) for item in inputs)):
        inputs = [inputs] if inputs else []
    if not 1 <= len(inputs) <= state.config.max_embedding_inputs:
        raise APIError(
            400,
            f"input must hold 1 to {state.config.max_embedding_inputs} items, got {len(inputs)}",
            param="input",
        )
    embedder, vocab = served.embedder, served.tokenizer.vocab_size
    sequences = []
    for index, item in enumerate(inputs):
        if isinstance(item, str):
            sequences.append(embedder.token_ids(checked_text(item, f"input.{index}")))
        elif not item or any(not 0 <= token < vocab for token in item):
            raise APIError(400, f"token ids must be a non-empty list in [0, {vocab})", param="input")
        else:
            sequences.append(list(item)[: embedder.max_length])
    if body.dimensions is not None and not 1 <= body.dimensions <= served.model.config.d_model:
        raise APIError(400, f"dimensions must be in [1, {served.model.config.d_model}]", param="dimensions")
    vectors = await run_in_threadpool(embedder.embed_ids, sequences)
    if body.dimensions is not None:  # Matryoshka-style truncation, renormalised
        vectors = vectors[:, : body.dimensions]
        vectors = vectors / vectors.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    data = []
    for index, vector in enumerate(vectors):
        values = vector.float().numpy()
        encoded = (
            base64.b64encode(values.astype(np.float32).tobytes()).decode("ascii")
            if body.encoding_format == "base64"
            else values.tolist()
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(ids) for ids in sequences)
    return {
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


@router.post("/tokenize", dependencies=keyed)
async def tokenize(body: TokenizeRequest, request: Request) -> dict:
    state = serve_state(request)
    served = state.model(request, body.model)
    if (body.prompt is None) == (body.messages is None):
        raise APIError(400, "give exactly one of prompt and messages", param="prompt")
    if body.messages is not None:
        if not body.messages:
            raise APIError(400, "messages is empty", param="messages")
        ids = chat_prompt_ids(served, body.messages, body.add_generation_prompt)
    else:
        ids = served.tokenizer.encode(
            checked_text(body.prompt, "prompt"), add_special_tokens=body.add_special_tokens
        )
    limit = served.engine.max_model_len if served.engine is not None else served.model.config.context_length
    return {"tokens": ids, "count": len(ids), "max_model_len": limit}


@router.post("/detokenize", dependencies=keyed)
async def detokenize(body: DetokenizeRequest, request: Request) -> dict:
    served = serve_state(request).model(request, body.model)
    vocab = served.tokenizer.vocab_size
    if any(not 0 <= token < vocab for token in body.tokens):
        raise APIError(400, f"tokens must be ids in [0, {vocab})", param="tokens")
    return {"prompt": served.tokenizer.decode(body.tokens)}


@router.get("/health")
async def health(request: Request) -> Response:
    state = serve_state(request)
    if state.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    if isinstance(state.models, LoadingPool):
        return JSONResponse(
            {"status": "loading" if state.models.error is None else "failed"}, status_code=503
        )
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(serve_state(request).metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

"""The OpenAI-compatible server (§16, §18): `create_app(config)` and `glossa serve`.

A request's path through this folder:

    config.py       ServeConfig: every limit and switch
    app.py          create_app(config): the FastAPI app, its state, routers and middleware
    middleware.py   body size limit (413), JSON access log
    state.py        auth (API keys, 401; auth.py) and the per-app state
    protocol.py     request bodies (pydantic; also the OpenAPI schema)
    models.py       the served models: names, versions, aliases, A/B (routing.py), registry (registry.py)
    sampling.py     chat template, tokens, SamplingParams under the server's limits (400s);
                    response_format json_object through json_mode.py
    limits.py       per-key rate limits (429) and back-pressure (503)
    engine_loop.py  the engine thread: submit/abort from asyncio, outputs back through queues
    generation.py   completions and chat: JSON or Server-Sent Events (logprobs.py for log-probabilities)
    endpoints.py    models, embeddings, tokenize, health, metrics (metrics.py)
    errors.py       every error in OpenAI's shape
    server.py       uvicorn, graceful shutdown
"""

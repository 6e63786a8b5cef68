"""`create_app(config) -> FastAPI`: the OpenAI-compatible server as one ASGI app.

    app = create_app(ServeConfig(models=("smollm2",), embedding_models=("minilm",)))
    # in tests: httpx.AsyncClient(transport=httpx.ASGITransport(app)) or TestClient(app), no port
    # in production: glossa serve (uvicorn), see glossa.serve.server

The app holds its state on `app.state`: `app.state.serve` (config, models, keys, limits, metrics) and
`app.state.models`, the `ModelPool` other routes use (`get(name) -> ServedModel`, `names()`). Models load
when the app is created, or, with `background=True` (what `glossa serve` does), in a thread while the server
already answers: /health and model requests say 503 "loading" with Retry-After until they are in. Pass
`models=` to share one loaded pool between several apps (tests); an app closes only a pool it loaded itself.
On shutdown the app stops taking requests (503), waits up to `shutdown_grace_seconds` for the running ones,
then stops its engine threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

from fastapi import FastAPI

import glossa
from glossa.serve import endpoints, generation
from glossa.serve.auth import KeyChecker
from glossa.serve.config import ServeConfig
from glossa.serve.errors import install_error_handlers
from glossa.serve.limits import RateLimiter
from glossa.serve.metrics import ServeMetrics
from glossa.serve.middleware import AccessLog, BodyLimit
from glossa.serve.models import LoadingPool, ModelPool
from glossa.serve.state import ServeState
from glossa.serve.web import routes as web_routes

log = logging.getLogger("glossa.serve")


def create_app(
    config: ServeConfig | None = None, *, models: ModelPool | None = None, background: bool = False
) -> FastAPI:
    config = config or ServeConfig()
    owns_pool = models is None
    keys = KeyChecker(config.all_api_keys())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        state: ServeState = app.state.serve
        state.draining = True
        deadline = time.monotonic() + config.shutdown_grace_seconds
        while any(loop.num_requests for _, _, loop in state.models.engines()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if owns_pool:
            state.models.close()

    app = FastAPI(
        title="glossa",
        version=glossa.__version__,
        summary="OpenAI-compatible API in front of glossa's inference engine",
        lifespan=lifespan,
    )
    metrics = ServeMetrics(lambda: [(name, engine) for name, engine, _ in app.state.serve.models.engines()])
    limiter = RateLimiter(config.requests_per_minute, config.tokens_per_minute)
    state = ServeState(config, LoadingPool(), keys, limiter, metrics)
    app.state.serve = state
    _set_models(app, models if models is not None else LoadingPool())
    if models is None:
        if background:
            threading.Thread(target=_load, args=(app, config), name="glossa-load", daemon=True).start()
        else:
            _set_models(app, ModelPool.load(config))
    install_error_handlers(app)
    app.include_router(generation.router)
    app.include_router(endpoints.router)
    app.include_router(web_routes.router)
    app.add_middleware(AccessLog, enabled=config.access_log)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    return app


def _set_models(app: FastAPI, pool: ModelPool) -> None:
    app.state.serve.models = pool
    app.state.models = pool


def _load(app: FastAPI, config: ServeConfig) -> None:
    try:
        _set_models(app, ModelPool.load(config))
        log.info("models loaded: %s", ", ".join(app.state.models.names()))
    except Exception as error:  # reported by /health and every model request
        log.exception("loading the models failed")
        app.state.models.error = str(error)

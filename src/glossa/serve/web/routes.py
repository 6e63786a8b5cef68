"""The web pages' routes: chat and glossary pages, their assets, the terms JSON, source views, next-token API.

    GET  /, /chat                   the chat page (streams /v1/chat/completions)
    GET  /glossary                  the glossary page (search, summaries, code locations, live demos)
    GET  /web/{asset}               the pages' CSS and JS, shipped as package data next to this file
    GET  /glossary/terms.json       every term with its code location and live-demo kind
    GET  /glossary/source/{slug}    the source lines of a term's code, as a small HTML page
    POST /v1/next_token             the next-token distribution of a prompt under sampling settings

The server's app includes `router`; the routes find models through `request.app.state.models` (`get(name)`,
`names()`), the contract the server keeps. Pages are plain files, no build step: an asset is served only if
its name is in the folder's listing taken at import, so a request path never reaches the filesystem. Bad
input to the API is a 400 in OpenAI's error shape `{"error": {"message", "type", "param", "code"}}`; an
unknown model or term is a 404 in the same shape.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError
from starlette.concurrency import run_in_threadpool

from glossa.errors import GlossaError
from glossa.infer.params import SamplingParams
from glossa.serve.errors import APIError
from glossa.serve.web.glossary_data import source_excerpt, terms_json
from glossa.serve.web.next_token import MAX_TOP_N, next_token_distribution

WEB_DIR = Path(__file__).resolve().parent
MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".html": "text/html"}
ASSETS = {path.name: path for path in WEB_DIR.iterdir() if path.suffix in MEDIA_TYPES}
MAX_BODY_BYTES = 64 * 1024

router = APIRouter()


def openai_error(
    status: int, message: str, param: str | None = None, error_type: str = "invalid_request_error", code=None
) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _page(name: str) -> FileResponse:
    return FileResponse(ASSETS[name], media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/", include_in_schema=False)
@router.get("/chat", include_in_schema=False)
async def chat_page() -> FileResponse:
    return _page("chat.html")


@router.get("/glossary", include_in_schema=False)
async def glossary_page() -> FileResponse:
    return _page("glossary.html")


@router.get("/web/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    path = ASSETS.get(name)
    if path is None:
        return openai_error(404, f"no web asset named '{name}'", "name", "not_found_error")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})


@router.get("/glossary/terms.json")
async def glossary_terms() -> JSONResponse:
    """Every glossary term with its summary, code location (file:line) and live-demo kind."""
    return JSONResponse(await run_in_threadpool(terms_json))


@router.get("/glossary/source/{slug}", include_in_schema=False)
async def glossary_source(slug: str) -> Response:
    try:
        excerpt = await run_in_threadpool(source_excerpt, slug)
    except GlossaError as error:
        return openai_error(404, str(error), "slug", "not_found_error")
    rows = "\n".join(
        f'<tr id="L{number}"><td class="n">{number}</td><td><code>{html.escape(line)}</code></td></tr>'
        for number, line in enumerate(excerpt.lines, start=excerpt.first_line)
    )
    title = html.escape(f"{excerpt.path}:{excerpt.first_line}")
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<link rel="stylesheet" href="/web/style.css"></head><body class="source">'
        f'<p><a href="/glossary#{html.escape(slug)}">← {html.escape(slug)}</a> · '
        f"<code>{html.escape(excerpt.code)}</code></p><h1>{title}</h1>"
        f'<table class="lines">{rows}</table></body></html>'
    )
    return HTMLResponse(page)


class NextTokenRequest(BaseModel):
    """POST /v1/next_token: a prompt and the sampling settings to apply to its next-token logits."""

    model_config = ConfigDict(extra="forbid")

    model: StrictStr | None = None
    prompt: StrictStr = Field(min_length=1, max_length=8000)
    temperature: StrictFloat | StrictInt = Field(1.0, le=1e6)
    top_k: StrictInt = Field(0, ge=-1, le=1 << 20)
    top_p: StrictFloat | StrictInt = Field(1.0, le=1e6)
    min_p: StrictFloat | StrictInt = Field(0.0, le=1e6)
    top_n: StrictInt = Field(10, ge=1, le=MAX_TOP_N)


def _validation_message(error: ValidationError) -> tuple[str, str | None]:
    first = error.errors()[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    return f"{param}: {first['msg']}" if param else first["msg"], param


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise GlossaError(f"request body is {len(body)} bytes; this endpoint takes at most {MAX_BODY_BYTES}")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GlossaError(f"request body is not valid JSON ({error})") from None


def _refused_key(request: Request) -> JSONResponse | None:
    """The server's API-key check (401 in OpenAI's shape), when the app has keys; None when allowed."""
    keys = getattr(getattr(request.app.state, "serve", None), "keys", None)
    if keys is None:
        return None
    try:
        keys.check(request.headers.get("authorization"))
    except APIError as error:
        response = openai_error(error.status, error.message, None, "authentication_error", error.code)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None


def _default_model(request: Request) -> str:
    models = request.app.state.models
    for name in models.names():
        served = models.get(name)
        if getattr(served, "engine", None) is not None:
            return name
    raise GlossaError("no generative model is being served")


@router.post(
    "/v1/next_token",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": NextTokenRequest.model_json_schema()}},
        }
    },
)
async def next_token(request: Request) -> JSONResponse:
    """The top_n most likely next tokens of `prompt` with raw and filtered probabilities; the filtered ones
    come from glossa's logits processors under temperature, top_k, top_p and min_p."""
    refused = _refused_key(request)
    if refused is not None:
        return refused
    if not request.app.state.models.names():
        response = openai_error(503, "the server is still loading its models: retry in a few seconds")
        response.headers["Retry-After"] = "2"
        return response
    try:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise GlossaError("request body must be a JSON object")
        parsed = NextTokenRequest.model_validate(body)
        params = SamplingParams(
            temperature=float(parsed.temperature),
            top_k=parsed.top_k,
            top_p=float(parsed.top_p),
            min_p=float(parsed.min_p),
        )
        name = parsed.model or _default_model(request)
    except ValidationError as error:
        message, param = _validation_message(error)
        return openai_error(400, message, param)
    except GlossaError as error:
        return openai_error(400, str(error))
    try:
        served = request.app.state.models.get(name)
    except GlossaError as error:
        return openai_error(404, str(error), "model", code="model_not_found")
    if getattr(served, "engine", None) is None:
        return openai_error(400, f"model '{name}' does not generate text: pick a decoder", "model")
    try:
        dist = await run_in_threadpool(
            next_token_distribution, served.model, served.tokenizer, parsed.prompt, params, parsed.top_n
        )
    except GlossaError as error:
        return openai_error(400, str(error), "prompt")
    return JSONResponse(
        {
            "object": "next_token_distribution",
            "model": name,
            "prompt_tokens": dist.prompt_tokens,
            "kept": dist.kept,
            "entropy_bits": dist.entropy_bits,
            "tokens": [token.__dict__ for token in dist.tokens],
        }
    )

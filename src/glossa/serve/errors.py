"""Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with the status that fits.

Every way a request can go wrong ends here, so a client always gets the same JSON and never a 500 for
something it sent: `APIError` (raised by our handlers), `GlossaError` (a bad sampling value, a prompt too
long: 400 with its message), FastAPI's validation errors (422 → 400, as OpenAI answers), Starlette's HTTP
errors (404 unknown route, 405 wrong method, 400 unparsable body) and, as a last resort, any other exception
(500, logged with its traceback, message generic).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from glossa.errors import GlossaError

log = logging.getLogger("glossa.serve")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "internal_error",
    503: "overloaded_error",
}


class APIError(Exception):
    """An error answer: status, message, and OpenAI's `param` and `code` where they help."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.retry_after = retry_after


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    kind = ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "internal_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(error: APIError) -> JSONResponse:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(error.retry_after + 0.999)))
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = error_body(error.status, error.message, error.param, error.code)
    return JSONResponse(body, status_code=error.status, headers=headers)


def validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    """The first problem in one line, and the field it concerns."""
    problems = error.errors()
    if not problems:
        return "the request is not valid", None
    first = problems[0]
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    if first.get("type") == "json_invalid":
        return f"the body is not valid JSON: {first.get('msg', '')}", None
    where = f" at {param}" if param else ""
    return f"{first.get('msg', 'invalid value')}{where}", param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(request: Request, error: APIError) -> JSONResponse:
        if error.status in (429, 503):  # refusals under load are what an operator alerts on
            serve = getattr(request.app.state, "serve", None)
            if serve is not None:
                serve.metrics.rejected.labels(str(error.status)).inc()
        return error_response(error)

    @app.exception_handler(GlossaError)
    async def glossa_error(_: Request, error: GlossaError) -> JSONResponse:
        return error_response(APIError(400, str(error)))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        message, param = validation_message(error)
        return error_response(APIError(400, message, param=param, code="invalid_value"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = str(error.detail)
        if error.status_code == 404:
            message = f"no route {request.method} {request.url.path}: see /docs for the endpoints"
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        response = error_response(APIError(error.status_code, message))
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(APIError(500, "internal server error (logged on the server)"))

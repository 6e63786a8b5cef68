"""Two pure-ASGI middlewares around the app: a request-body size limit and JSON access logs.

`BodyLimit` reads the body before any route does and answers 413 as soon as it passes the limit (from the
Content-Length header when there is one, else by counting), so a 10 MB body costs the server at most
`max_bytes` of memory and never reaches a JSON parser. The route then reads the buffered body as usual.

`AccessLog` writes one JSON line per request to the `glossa.serve.access` logger when the response has been
sent (for a stream: when the stream ends): method, path, status, duration, the API key's short hash (never
the key), the model asked for and the version that answered.
"""

from __future__ import annotations

import json
import logging
import time

from fastapi.responses import JSONResponse

from glossa.serve.errors import error_body

access_log = logging.getLogger("glossa.serve.access")


class BodyLimit:
    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(scope, receive, send, 400, "the Content-Length header is not a number")
                return
            if int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send) -> None:
        message = f"the request body is larger than this server's limit of {self.max_bytes} bytes"
        await self._refuse(scope, receive, send, 413, message)

    async def _refuse(self, scope, receive, send, status: int, message: str) -> None:
        response = JSONResponse(
            error_body(status, message), status_code=status, headers={"Connection": "close"}
        )
        await response(scope, receive, send)


class AccessLog:
    def __init__(self, app, enabled: bool = True) -> None:
        self.app, self.enabled = app, enabled

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.enabled:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        start, status = time.perf_counter(), 500

        async def recording_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            record = {
                "ts": round(time.time(), 3),
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                "key": state.get("key_hash"),
                "model": state.get("model"),
                "model_version": state.get("model_version"),
            }
            access_log.info(json.dumps(record, ensure_ascii=False))

"""`ServeState`: what every route of one app shares (config, models, limits, metrics), on `app.state.serve`.

Also the FastAPI dependency `require_api_key`, which every model endpoint declares: it checks the bearer key
(401 otherwise), stores the key's short hash on `request.state.key_hash` for the rate limiter and the access
log, and shows up in the OpenAPI schema as the HTTP bearer security scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from glossa.errors import GlossaError
from glossa.serve.auth import KeyChecker
from glossa.serve.config import ServeConfig
from glossa.serve.errors import APIError
from glossa.serve.limits import RateLimiter
from glossa.serve.metrics import ServeMetrics
from glossa.serve.models import LoadingPool, ModelPool, ServedModel

bearer = HTTPBearer(auto_error=False, description="an API key of this server")


@dataclass
class ServeState:
    config: ServeConfig
    models: ModelPool
    keys: KeyChecker
    limiter: RateLimiter
    metrics: ServeMetrics
    draining: bool = False

    def model(self, request: Request, name: str, user: str | None = None) -> ServedModel:
        """The served model a request names (404 in OpenAI's words otherwise), noted for logs and headers."""
        if isinstance(self.models, LoadingPool):
            loading = self.models.error is None
            message = "the server is still loading its models" if loading else "the models failed to load"
            raise APIError(503, message, retry_after=5 if loading else None)
        try:
            served = self.models.get(name, user=user)
        except GlossaError as error:
            raise APIError(404, str(error), param="model", code="model_not_found") from None
        request.state.model = name
        request.state.model_version = served.name
        return served


def serve_state(request: Request) -> ServeState:
    return request.app.state.serve


async def require_api_key(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> str:
    del credentials  # declared for the OpenAPI schema; the header is read as is
    key = serve_state(request).keys.check(request.headers.get("authorization"))
    request.state.key_hash = key
    return key

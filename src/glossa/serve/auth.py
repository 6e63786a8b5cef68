"""API keys: `Authorization: Bearer <key>` on every model endpoint; /health stays open.

Keys are compared by their sha256 digests with `hmac.compare_digest` against every configured key, so the
time taken does not reveal which key or how much of one matched. A key is never logged: logs and rate-limit
buckets use `key_hash`, the first 12 hex digits of its sha256. With no keys configured, auth is off and every
caller is "anonymous" (one shared rate-limit bucket).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from glossa.serve.errors import APIError

ANONYMOUS = "anonymous"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class KeyChecker:
    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, authorization: str | None) -> str:
        """The caller's key hash, or APIError 401."""
        if not self.enabled:
            return ANONYMOUS
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise APIError(
                401, "missing API key: send the header 'Authorization: Bearer <key>'", code="invalid_api_key"
            )
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise APIError(401, "incorrect API key provided", code="invalid_api_key")
        return key_hash(key)

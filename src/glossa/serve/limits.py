"""Rate limits per API key (token buckets) and back-pressure (a bounded queue), as 429 and 503 answers.

A token bucket holds up to `capacity` units and refills at `rate` units per second; a request takes what it
costs or is refused with the time until the bucket would hold enough (`Retry-After`). Two buckets per key:
requests per minute (cost 1) and tokens per minute (cost: prompt tokens + max_tokens × n, charged at admission
and the unused part refunded when the request ends, as OpenAI's limiter estimates). A request that alone costs
more than the bucket holds can never pass, so it is a 429 that says so rather than a wait.

Back-pressure is separate: the engine takes `max_num_seqs` running plus `max_queue` waiting requests; one more
is answered 503 with `Retry-After` at once instead of piling up latency for everybody.
"""

from __future__ import annotations

import threading
import time

from glossa.serve.errors import APIError


class TokenBucket:
    def __init__(self, per_minute: float, clock=time.monotonic) -> None:
        self.capacity, self.rate, self.clock = per_minute, per_minute / 60.0, clock
        self.level, self.updated = per_minute, clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, cost: float) -> float:
        """Seconds until `cost` fits (0: it fits now); does not take anything."""
        self._refill()
        return 0.0 if self.level >= cost else (cost - self.level) / self.rate

    def take(self, cost: float) -> None:
        self._refill()
        self.level -= cost

    def give_back(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """Per-key request and token buckets; 0 per minute turns a limit off."""

    def __init__(self, requests_per_minute: float = 0, tokens_per_minute: float = 0, clock=time.monotonic):
        self.requests_per_minute, self.tokens_per_minute, self.clock = (
            requests_per_minute,
            tokens_per_minute,
            clock,
        )
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: str, kind: str, per_minute: float) -> TokenBucket:
        bucket = self._buckets.get((key, kind))
        if bucket is None:
            bucket = self._buckets[(key, kind)] = TokenBucket(per_minute, self.clock)
        return bucket

    def admit(self, key: str, tokens: int) -> None:
        """Take one request and `tokens` tokens from the key's buckets, or raise APIError 429."""
        with self._lock:
            checks = []
            if self.requests_per_minute > 0:
                checks.append(("requests", self._bucket(key, "requests", self.requests_per_minute), 1))
            if self.tokens_per_minute > 0:
                if tokens > self.tokens_per_minute:
                    raise APIError(
                        429,
                        f"this request needs {tokens} tokens but the limit is {self.tokens_per_minute:g} "
                        "tokens per minute: lower max_tokens or n, or shorten the prompt",
                        code="rate_limit_exceeded",
                    )
                checks.append(("tokens", self._bucket(key, "tokens", self.tokens_per_minute), tokens))
            waits = [(bucket.wait_for(cost), kind) for kind, bucket, cost in checks]
            wait, kind = max(waits, default=(0.0, ""))
            if wait > 0:
                limit = self.requests_per_minute if kind == "requests" else self.tokens_per_minute
                raise APIError(
                    429,
                    f"rate limit reached: {limit:g} {kind} per minute for this API key; "
                    f"retry in {wait:.1f} s",
                    code="rate_limit_exceeded",
                    retry_after=wait,
                )
            for _, bucket, cost in checks:
                bucket.take(cost)

    def refund(self, key: str, tokens: int) -> None:
        if self.tokens_per_minute > 0 and tokens > 0:
            with self._lock:
                self._bucket(key, "tokens", self.tokens_per_minute).give_back(tokens)

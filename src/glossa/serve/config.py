"""`ServeConfig`: every limit and switch of a server, in one dataclass (the CLI flags map onto its fields).

Limits are explicit, as DESIGN.md asks: request body size, largest `n`, largest `max_tokens`, prompt length
(the engine's `max_model_len`), concurrent sequences, queue length, per-key request and token rates.
API keys come from `api_keys`, a key file (one key a line, `#` comments) or the `GLOSSA_API_KEYS`
environment variable (comma-separated); with no key at all, authentication is off (a local server).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from glossa.errors import GlossaError

PRECISIONS = ("fp32", "bf16", "fast")


@dataclass
class ServeConfig:
    models: tuple[str, ...] = ("smollm2",)
    embedding_models: tuple[str, ...] = ()  # loaded as encoders for /v1/embeddings (e.g. "minilm")
    host: str = "127.0.0.1"
    port: int = 8000
    precision: str = "fp32"
    api_keys: tuple[str, ...] = ()
    api_key_file: Path | None = None
    max_body_bytes: int = 1 << 20
    max_num_seqs: int = 16
    max_model_len: int = 2048
    max_tokens: int = 512  # the cap on any request's max_tokens; the default when it gives none
    max_n: int = 8
    max_queue: int = 64  # requests admitted beyond the running batch; more get 503 + Retry-After
    max_embedding_inputs: int = 64
    requests_per_minute: float = 0.0  # per API key; 0 = unlimited
    tokens_per_minute: float = 0.0  # per API key (prompt + max_tokens × n, charged at admission)
    registry_path: Path | None = None
    model_roots: tuple[Path, ...] = ()
    shutdown_grace_seconds: float = 30.0
    access_log: bool = True
    threads: int = 0  # torch threads for the engine (0: torch's default)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise GlossaError(f"unknown precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        for name in ("max_body_bytes", "max_num_seqs", "max_model_len", "max_tokens", "max_n"):
            if getattr(self, name) < 1:
                raise GlossaError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.max_queue < 0 or self.requests_per_minute < 0 or self.tokens_per_minute < 0:
            raise GlossaError("max_queue, requests_per_minute and tokens_per_minute must be 0 or more")
        if not self.models and not self.embedding_models:
            raise GlossaError("serve at least one model: give --model (and/or --embedding-model)")

    def all_api_keys(self) -> tuple[str, ...]:
        """Keys from the config, the key file and GLOSSA_API_KEYS, without blanks and duplicates."""
        keys = list(self.api_keys)
        if self.api_key_file is not None:
            try:
                lines = Path(self.api_key_file).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                raise GlossaError(f"cannot read the API key file {self.api_key_file}: {error}") from None
            keys += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        keys += [key.strip() for key in os.environ.get("GLOSSA_API_KEYS", "").split(",") if key.strip()]
        return tuple(dict.fromkeys(keys))

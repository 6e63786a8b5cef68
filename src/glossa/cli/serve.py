"""`glossa serve`: the OpenAI-compatible server (FastAPI on uvicorn) in front of glossa's inference engine.

    glossa serve                                         SmolLM2 on http://127.0.0.1:8000/v1
    glossa serve --model smollm2 --embedding-model minilm --api-key-file keys.txt --port 8080
    glossa serve --model chat-ab --registry models.db    a registry alias: an A/B split of two versions
    GLOSSA_API_KEYS=k1,k2 glossa serve --rpm 60 --tpm 20000

Then any OpenAI client works: `OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="k1")`. Every limit is a
flag (see `glossa.serve.config.ServeConfig`). Heavy imports happen inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glossa.cli.console import err_console


def register(app: typer.Typer) -> None:
    """Add `glossa serve` to the glossa app."""
    app.command("serve")(serve)


def serve(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="built-in, registered name, name@version or alias"),
    ] = None,
    embedding_model: Annotated[
        list[str] | None,
        typer.Option("--embedding-model", help="an encoder for /v1/embeddings (e.g. minilm)"),
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    api_key_file: Annotated[
        Path | None, typer.Option("--api-key-file", help="API keys, one a line (also GLOSSA_API_KEYS)")
    ] = None,
    precision: Annotated[str, typer.Option(help="fp32, bf16 or fast (int4 weight-only)")] = "fp32",
    max_num_seqs: Annotated[int, typer.Option("--max-num-seqs", help="requests decoded together")] = 16,
    max_model_len: Annotated[int, typer.Option("--max-model-len", help="prompt + output tokens")] = 2048,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", help="largest max_tokens a request may ask")
    ] = 512,
    max_n: Annotated[int, typer.Option("--max-n", help="largest n a request may ask")] = 8,
    max_queue: Annotated[int, typer.Option("--max-queue", help="waiting requests before 503")] = 64,
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", help="request body limit (413)")] = 1
    << 20,
    rpm: Annotated[float, typer.Option("--rpm", help="requests per minute per key (0: off)")] = 0,
    tpm: Annotated[float, typer.Option("--tpm", help="tokens per minute per key (0: off)")] = 0,
    registry: Annotated[Path | None, typer.Option(help="model registry file (default ~/.glossa)")] = None,
    root: Annotated[
        list[Path] | None, typer.Option("--root", help="folders registered models may live in")
    ] = None,
    grace: Annotated[float, typer.Option(help="seconds to let requests finish on shutdown")] = 30.0,
    threads: Annotated[
        int,
        typer.Option(
            help="torch threads of the engine (0: torch's default; 1 is steadiest on a busy machine)"
        ),
    ] = 0,
) -> None:
    """Serve models over an OpenAI-compatible HTTP API (completions, chat, embeddings, metrics)."""
    from glossa.serve.config import ServeConfig
    from glossa.serve.models import check_model_names
    from glossa.serve.server import run

    config = ServeConfig(
        models=tuple(model) if model else (() if embedding_model else ("smollm2",)),
        embedding_models=tuple(embedding_model or ()),
        host=host,
        port=port,
        precision=precision,
        api_key_file=api_key_file,
        max_num_seqs=max_num_seqs,
        max_model_len=max_model_len,
        max_tokens=max_tokens,
        max_n=max_n,
        max_queue=max_queue,
        max_body_bytes=max_body_bytes,
        requests_per_minute=rpm,
        tokens_per_minute=tpm,
        registry_path=registry,
        model_roots=tuple(root or ()),
        shutdown_grace_seconds=grace,
        threads=threads,
    )
    check_model_names(config)  # a typo fails here, in one line, not in the background loader
    keys = config.all_api_keys()
    err_console.print(
        f"serving {', '.join(config.models + config.embedding_models)} on http://{host}:{port}/v1 "
        f"({len(keys)} API key{'s' if len(keys) != 1 else ''}{'' if keys else ': auth off'})"
    )
    run(config)

"""Run the app under uvicorn: `run(config)` for `glossa serve`, `ServerThread` for tests and benchmarks.

Graceful shutdown is uvicorn's, with our grace period: on SIGINT/SIGTERM it stops accepting connections, lets
in-flight requests (streams included) finish for up to `shutdown_grace_seconds`, then runs the app's
lifespan shutdown, which stops the engine threads. Access logs are the app's JSON lines (uvicorn's own access
log is off: one line per request is enough).

    with ServerThread(create_app(config)) as server:     # a free loopback port
        openai.OpenAI(base_url=server.url + "/v1", api_key=key).models.list()
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from glossa.serve.app import create_app
from glossa.serve.config import ServeConfig
from glossa.serve.models import check_model_names


def configure_logging() -> None:
    """The access log as bare JSON lines on stderr; glossa's other messages with a level prefix."""
    access = logging.getLogger("glossa.serve.access")
    if not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    logging.getLogger("glossa.serve").setLevel(logging.INFO)


def uvicorn_config(app: FastAPI, host: str, port: int, grace: float) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, access_log=False, timeout_graceful_shutdown=grace, log_level="info"
    )


def run(config: ServeConfig) -> None:
    """Serve until SIGINT/SIGTERM; after uvicorn's graceful shutdown the process exits with status 0."""
    check_model_names(config)
    configure_logging()
    for signum in (signal.SIGINT, signal.SIGTERM):  # uvicorn re-raises the signal it caught once it is done
        signal.signal(signum, _exit_cleanly)
    app = create_app(config, background=True)
    uvicorn.Server(uvicorn_config(app, config.host, config.port, config.shutdown_grace_seconds)).run()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ServerThread:
    """uvicorn serving `app` in a background thread on a free loopback port (a context manager)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int | None = None, grace: float = 5.0):
        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(uvicorn_config(app, self.host, self.port, grace))
        self.thread = threading.Thread(target=self.server.run, name="glossa-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        self.thread.join(30)

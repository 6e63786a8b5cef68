"""Scale-out: two `glossa serve` replicas behind Debian's nginx with deploy/nginx.conf, run without root.

The replicas are real processes (`python -m glossa serve`, SmolLM2, one torch thread each, a few tokens per
request) on free loopback ports; nginx runs in the foreground with every path under tmp_path. A stream of
requests from `glossa bench serve`'s client goes through nginx and must finish without one error, and each
replica's own /metrics must show that it answered part of it. Then one replica is stopped: nginx's passive
health check (max_fails) and the retry of refused connections keep every further request succeeding.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from glossa.serve.bench import BenchConfig, run_benchmark

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SUCCESS = re.compile(r"^glossa:request_success_total\{[^}]*\}\s+([0-9.e+]+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url} exited:\n{log.read_text()[-2000:]}"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not become healthy:\n{log.read_text()[-2000:]}")


def finished_requests(url: str) -> int:
    return int(sum(float(value) for value in SUCCESS.findall(httpx.get(f"{url}/metrics", timeout=5).text)))


def render(template: str, values: dict[str, str]) -> str:
    """What `envsubst '${A} ${B}'` does: only the named variables are replaced, nginx's $vars stay."""
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    leftover = re.findall(r"\$\{GLOSSA_[A-Z0-9_]+\}", template)
    assert not leftover, leftover
    return template


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("nginx")
    env = {key: value for key, value in os.environ.items() if key != "GLOSSA_API_KEYS"}
    replicas, processes = [], []
    try:
        for index in (1, 2):
            port, log = free_port(), run_dir / f"replica{index}.log"
            command = [sys.executable, "-m", "glossa", "serve", "--port", str(port), "--threads", "1"]
            command += ["--max-model-len", "256", "--max-num-seqs", "4", "--max-tokens", "8", "--grace", "1"]
            with log.open("wb") as sink:
                processes.append(subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env))
            replicas.append((f"http://127.0.0.1:{port}", log))
        for (url, log), process in zip(replicas, processes, strict=True):
            wait_until_healthy(url, process, log)

        listen = f"127.0.0.1:{free_port()}"
        values = {
            "GLOSSA_LISTEN": listen,
            "GLOSSA_REPLICA_1": replicas[0][0].removeprefix("http://"),
            "GLOSSA_REPLICA_2": replicas[1][0].removeprefix("http://"),
            "GLOSSA_RUN_DIR": str(run_dir),
        }
        conf = run_dir / "nginx.conf"
        conf.write_text(render(TEMPLATE.read_text(), values))
        error_log = run_dir / "error.log"
        nginx = subprocess.Popen(
            [NGINX, "-p", str(run_dir), "-e", str(error_log), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        processes.append(nginx)
        wait_until_healthy(f"http://{listen}", nginx, error_log, seconds=20)
        yield f"http://{listen}", [url for url, _ in replicas], processes, run_dir
    finally:
        for process in reversed(processes):
            stop(process, signal.SIGQUIT if process.args[0] == NGINX else signal.SIGTERM)


def test_requests_spread_over_both_replicas_without_errors(cluster):
    front, replicas, _, run_dir = cluster
    before = [finished_requests(url) for url in replicas]
    config = BenchConfig(
        url=front, num_prompts=8, request_rates=(20.0,), max_concurrency=4, max_tokens=3, prompt_chars=120
    )
    [run] = asyncio.run(run_benchmark(config))
    assert run["failed"] == 0 and run["completed"] == 8, run["errors"]
    assert run["total_output_tokens"] == 24
    served = [finished_requests(url) - count for url, count in zip(replicas, before, strict=True)]
    assert sum(served) == 9  # the 8 measured requests and the warm-up
    assert min(served) >= 2, served  # least_conn with 4 in flight uses both replicas
    upstreams = set(re.findall(r"upstream=(\S+)", (run_dir / "access.log").read_text()))
    assert {url.removeprefix("http://") for url in replicas} <= upstreams


def test_a_stopped_replica_is_skipped_and_no_request_fails(cluster):
    front, replicas, processes, _ = cluster
    stop(processes[1])
    before = finished_requests(replicas[0])
    body = {"model": "smollm2", "prompt": "To be, or not to be", "max_tokens": 3, "temperature": 0}
    statuses = [httpx.post(f"{front}/v1/completions", json=body, timeout=120).status_code for _ in range(4)]
    assert statuses == [200] * 4
    assert finished_requests(replicas[0]) - before == 4

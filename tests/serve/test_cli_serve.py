"""`glossa serve` as a real process: 503 while loading then 200 on /health, a chat request with a key from
the key file, and SIGTERM in the middle of a stream: the stream still ends with [DONE] (graceful drain), the
process exits 0, and the JSON access log names the key by its hash, never the key itself."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import httpx

from glossa.serve.auth import key_hash
from glossa.serve.server import free_port

KEY = "file-key-123"


def test_serve_process_drains_on_sigterm(tmp_path):
    (tmp_path / "keys.txt").write_text(f"# keys\n{KEY}\n")
    port = free_port()
    command = [sys.executable, "-m", "glossa", "serve", "--port", str(port), "--api-key-file", "keys.txt"]
    command += ["--max-model-len", "128", "--max-num-seqs", "2", "--threads", "1", "--grace", "60"]
    env = {**os.environ, "GLOSSA_API_KEYS": ""}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        statuses = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                statuses.append(httpx.get(url + "/health").status_code)
            if statuses and statuses[-1] == 200:
                break
            time.sleep(0.1)
        assert statuses and statuses[-1] == 200 and set(statuses) <= {200, 503}
        headers = {"Authorization": f"Bearer {KEY}"}
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": "Count to ten."}],
            "max_tokens": 5,
        }
        assert (
            httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=120).status_code
            == 200
        )
        lines = []
        with httpx.stream(
            "POST", url + "/v1/chat/completions", json={**body, "stream": True}, headers=headers, timeout=120
        ) as response:
            for line in response.iter_lines():
                if line:
                    lines.append(line)
                if len(lines) == 2:
                    process.send_signal(signal.SIGTERM)
        assert lines[-1] == "data: [DONE]"
        assert json.loads(lines[-2][6:])["choices"][0]["finish_reason"] in ("stop", "length")
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate(timeout=30)
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    chats = [r for r in records if r["path"] == "/v1/chat/completions"]
    assert len(chats) == 2 and all(r["status"] == 200 and r["key"] == key_hash(KEY) for r in chats)
    assert KEY not in stderr


def test_unknown_model_fails_fast_with_one_line(run_cli, one_line_error, tmp_path):
    result = run_cli("serve", "--model", "no-such-model", "--registry", str(tmp_path / "reg.db"))
    one_line_error(result)
    assert "no-such-model" in result.stderr

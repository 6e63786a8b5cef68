"""100 streaming clients that hang up mid-stream (some right after the headers, some after the first token)
leave nothing running and nothing allocated: every KV block is back in the pool."""

import asyncio
import time

import httpx

from glossa.serve.server import ServerThread


async def hang_up(client: httpx.AsyncClient, url: str, headers: dict, index: int) -> int:
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": f"Count to {index}."}],
        "max_tokens": 32,
        "stream": True,
    }
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            return response.status_code
        if index % 2:
            async for line in response.aiter_lines():
                if line.startswith("data: {") and '"content": ""' not in line:
                    break
    return 200


async def hundred_clients(url: str, headers: dict) -> list[int]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return await asyncio.gather(*(hang_up(client, url, headers, i) for i in range(100)))


def test_hundred_disconnects_free_every_block(make_app, auth, engine_idle, pool):
    generated_before = pool.get("smollm2").engine.stats.generated_tokens
    with ServerThread(make_app(max_queue=128)) as server:
        statuses = asyncio.run(hundred_clients(server.url + "/v1/chat/completions", auth))
        assert statuses == [200] * 100
        deadline = time.monotonic() + 60
        while not engine_idle() and time.monotonic() < deadline:
            time.sleep(0.05)
        engine = pool.get("smollm2").engine
        assert engine_idle(), (
            engine.cache.num_free_blocks,
            engine.cache.num_blocks,
            pool.get("smollm2").loop.num_requests,
        )
        assert (
            engine.stats.generated_tokens - generated_before < 100 * 32
        )  # they were cut short, not run to the end
        metrics = httpx.get(server.url + "/metrics").text
        assert 'glossa:num_requests_running{model_name="smollm2"} 0.0' in metrics

"""`POST /v1/completions` and `POST /v1/chat/completions`: one request from JSON to tokens and back.

    body ─► auth ─► model (A/B route) ─► chat template + tokenise ─► SamplingParams (limits) ─► rate limit
         ─► back-pressure ─► EngineLoop.submit (one engine request per prompt, n samples each) ─► admitted?
         ─► stream: Server-Sent Events as OpenAI sends them  |  else: one JSON body when all are done

Streaming is `data: {chunk}\\n\\n` per event: in chat, a first chunk per choice with the assistant role, then
content deltas, then a chunk with the finish reason; with `stream_options.include_usage`, every chunk carries
`"usage": null` and a last chunk with empty `choices` carries the usage; then `data: [DONE]`. A client that
goes away closes the event generator, whose `finally` aborts its engine requests: their KV blocks are free
before the next step. Usage counts are the tokenizer's: prompt tokens once per prompt, completion tokens of
every choice.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from glossa.errors import GlossaError
from glossa.infer.engine import CompletionOutput, RequestOutput
from glossa.serve.engine_loop import ADMITTED
from glossa.serve.errors import APIError
from glossa.serve.logprobs import chat_logprobs, completion_logprobs
from glossa.serve.models import ServedModel
from glossa.serve.protocol import ChatCompletionRequest, CompletionRequest
from glossa.serve.sampling import chat_prompt_ids, completion_prompts, sampling_params
from glossa.serve.state import ServeState, require_api_key, serve_state

router = APIRouter(dependencies=[Depends(require_api_key)])
VERSION_HEADER = "x-glossa-model-version"


@router.post("/v1/completions")
async def completions(body: CompletionRequest, request: Request):
    return await _generate(request, body)


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    return await _generate(request, body)


class EventStreamResponse(StreamingResponse):
    """A StreamingResponse that always closes its generator, however the response ends (a client
    disconnect surfaces as an exception from `send`, which would otherwise leave it for the GC)."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


@dataclass
class _Call:
    """One HTTP generation request in flight: its engine requests and what is needed to answer it."""

    state: ServeState
    served: ServedModel
    body: CompletionRequest | ChatCompletionRequest
    prompts: list[list[int]]
    key: str
    cost: int
    request_ids: list[str] = field(default_factory=list)
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    early: list[tuple[str, object]] = field(default_factory=list)  # outputs that came while admitting
    finished: set[str] = field(default_factory=set)
    generated: int = 0
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def chat(self) -> bool:
        return isinstance(self.body, ChatCompletionRequest)

    def choice_index(self, request_id: str, completion: CompletionOutput) -> int:
        return self.request_ids.index(request_id) * self.body.n + completion.index

    def usage(self) -> dict[str, int]:
        prompt = sum(len(ids) for ids in self.prompts)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": self.generated,
            "total_tokens": prompt + self.generated,
        }

    async def admitted(self) -> None:
        """Wait until every engine request is in (or one was refused: APIError 400)."""
        waiting = set(self.request_ids)
        while waiting:
            request_id, item = await self.queue.get()
            if item == ADMITTED:
                waiting.discard(request_id)
            elif isinstance(item, GlossaError):
                raise APIError(400, str(item))
            elif isinstance(item, Exception):
                raise APIError(500, "the engine failed on this request (logged on the server)")
            else:
                self.early.append((request_id, item))

    async def outputs(self) -> AsyncIterator[tuple[str, RequestOutput]]:
        """Every engine output of this call, until all its requests finished."""
        while len(self.finished) < len(self.request_ids):
            request_id, item = self.early.pop(0) if self.early else await self.queue.get()
            if isinstance(item, Exception):
                raise APIError(500, "the engine failed on this request (logged on the server)")
            if not isinstance(item, RequestOutput):
                continue
            if item.finished:
                self.finished.add(request_id)
                self.generated += sum(len(c.token_ids) for c in item.outputs)
                self.state.metrics.record(
                    self.body.model,
                    self.served.name,
                    item.metrics,
                    sum(len(c.token_ids) for c in item.outputs),
                    [c.finish_reason for c in item.outputs],
                )
            yield request_id, item

    def release(self) -> None:
        """Abort what is unfinished and give back the unused part of the token charge."""
        for request_id in self.request_ids:
            if request_id not in self.finished:
                self.served.loop.abort(request_id)
        used = sum(len(ids) for ids in self.prompts) + self.generated
        self.state.limiter.refund(self.key, self.cost - used)


async def _generate(request: Request, body: CompletionRequest | ChatCompletionRequest):
    state = serve_state(request)
    served = state.model(request, body.model, body.user)
    if served.engine is None or served.loop is None:
        raise APIError(400, f"{body.model} is an embedding model: use /v1/embeddings", param="model")
    if isinstance(body, ChatCompletionRequest):
        prompts = [chat_prompt_ids(served, body.messages)]
    else:
        prompts = completion_prompts(served, body.prompt)
    params = sampling_params(body, served, state.config, [len(ids) for ids in prompts])
    cost = sum(len(ids) for ids in prompts) + params.max_tokens * params.n * len(prompts)
    key = getattr(request.state, "key_hash", "anonymous")
    if state.draining:
        raise APIError(503, "the server is shutting down: retry on another replica", retry_after=5)
    capacity = state.config.max_num_seqs + state.config.max_queue
    if served.loop.num_requests + len(prompts) > capacity:
        raise APIError(503, f"the server is at capacity ({capacity} requests): retry shortly", retry_after=1)
    state.limiter.admit(key, cost)
    call = _Call(state, served, body, prompts, key, cost)
    call.id = ("chatcmpl-" if call.chat else "cmpl-") + uuid.uuid4().hex
    call.request_ids = [served.loop.submit(ids, params, call.queue) for ids in prompts]
    headers = {VERSION_HEADER: served.name}
    try:
        await call.admitted()
    except BaseException:
        call.release()
        raise
    if body.stream:
        return EventStreamResponse(_events(call), media_type="text/event-stream", headers=headers)
    try:
        finals: dict[str, RequestOutput] = {}
        async for request_id, output in call.outputs():
            if output.finished:
                finals[request_id] = output
    finally:
        call.release()
    return JSONResponse(_whole_body(call, finals), headers=headers)


def _whole_body(call: _Call, finals: dict[str, RequestOutput]) -> dict:
    tokenizer = call.served.tokenizer
    choices = []
    for request_id in call.request_ids:
        for completion in finals[request_id].outputs:
            index = call.choice_index(request_id, completion)
            if call.chat:
                choice = {
                    "index": index,
                    "message": {"role": "assistant", "content": completion.text},
                    "logprobs": chat_logprobs(tokenizer, completion, 0) if call.body.logprobs else None,
                    "finish_reason": completion.finish_reason,
                }
            else:
                asked = call.body.logprobs is not None
                choice = {
                    "index": index,
                    "text": completion.text,
                    "logprobs": completion_logprobs(tokenizer, completion, 0, 0) if asked else None,
                    "finish_reason": completion.finish_reason,
                }
            choices.append(choice)
    choices.sort(key=lambda choice: choice["index"])
    return {
        "id": call.id,
        "object": "chat.completion" if call.chat else "text_completion",
        "created": call.created,
        "model": call.body.model,
        "choices": choices,
        "usage": call.usage(),
        "system_fingerprint": None,
    }


def _event(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _events(call: _Call) -> AsyncIterator[str]:
    body, tokenizer = call.body, call.served.tokenizer
    options = body.stream_options
    include_usage = bool(options and options.include_usage)
    kind = "chat.completion.chunk" if call.chat else "text_completion"
    started: set[int] = set()
    sent_tokens: dict[int, int] = {}
    sent_chars: dict[int, int] = {}
    closed: set[int] = set()

    def chunk(choice: dict) -> str:
        data = {
            "id": call.id,
            "object": kind,
            "created": call.created,
            "model": body.model,
            "choices": [choice],
        }
        if include_usage:
            data["usage"] = None
        return _event(data)

    try:
        async for request_id, output in call.outputs():
            for completion in output.outputs:
                index = call.choice_index(request_id, completion)
                if call.chat and index not in started:
                    started.add(index)
                    yield chunk(
                        {
                            "index": index,
                            "delta": {"role": "assistant", "content": ""},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    )
                first_token, first_char = sent_tokens.get(index, 0), sent_chars.get(index, 0)
                new_tokens = len(completion.token_ids) - first_token
                text = completion.text[first_char:]
                if text or (new_tokens and completion.logprobs is not None):
                    sent_tokens[index], sent_chars[index] = len(completion.token_ids), len(completion.text)
                    if call.chat:
                        logprobs = (
                            chat_logprobs(tokenizer, completion, first_token) if body.logprobs else None
                        )
                        yield chunk(
                            {
                                "index": index,
                                "delta": {"content": text},
                                "logprobs": logprobs,
                                "finish_reason": None,
                            }
                        )
                    else:
                        logprobs = (
                            completion_logprobs(tokenizer, completion, first_token, first_char)
                            if body.logprobs is not None
                            else None
                        )
                        yield chunk(
                            {"index": index, "text": text, "logprobs": logprobs, "finish_reason": None}
                        )
                if completion.finish_reason is not None and index not in closed:
                    closed.add(index)
                    final = {"index": index, "logprobs": None, "finish_reason": completion.finish_reason}
                    final.update({"delta": {}} if call.chat else {"text": ""})
                    yield chunk(final)
        if include_usage:
            yield _event(
                {
                    "id": call.id,
                    "object": kind,
                    "created": call.created,
                    "model": body.model,
                    "choices": [],
                    "usage": call.usage(),
                }
            )
        yield "data: [DONE]\n\n"
    except APIError as error:
        yield _event(
            {"error": {"message": error.message, "type": "internal_error", "param": None, "code": None}}
        )
    finally:
        call.release()

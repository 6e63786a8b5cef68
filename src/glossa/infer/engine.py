"""`Engine`: a model, a paged KV cache and a scheduler, driven one `step()` at a time (vLLM's LLMEngine).

    engine = Engine(load_model("smollm2"), load_tokenizer("smollm2"), max_num_seqs=16)
    outputs = engine.generate(["The capital of France is"], SamplingParams(temperature=0, max_tokens=16))
    print(outputs[0].outputs[0].text, outputs[0].metrics.ttft)

    request_id = engine.add_request("Once upon a time", SamplingParams(max_tokens=32))
    while engine.has_unfinished_requests():
        for out in engine.step(): ...                 # continuous batching: add/abort between steps

    for out in engine.stream("Hi", params): print(out.outputs[0].delta_text, end="")

One step: the scheduler picks tokens under the budget (prefill chunks and decodes mixed) → the runner runs
them in one forward pass, writing K/V into the paged cache → each request that reached the end of its tokens
samples its next token (`glossa.infer.sampler.Sampler`, every request with its own settings and seed) → stop
checks (EOS, stop token ids, stop strings through `IncrementalDetokenizer`, max_tokens, max_model_len) →
finished requests free their blocks at once. `n > 1` samples share one prefill: when the prompt is done the
request forks n − 1 siblings that hold the same KV blocks by reference count (copy-on-write on the shared
partial block). With a speculative proposer, decoding requests carry k draft tokens that the same step
verifies (`glossa.infer.speculative`). With a `fast` (int4) model, prompt tokens run through bf16 copies
of the projections: a 512-token prefill step 0.84 -> 0.45 s (`glossa.infer.dense_prefill`;
`dense_prefill=False` saves the 2 bytes per weight). `kv_cache_dtype=torch.bfloat16` trades accuracy for
speed: a decoding step of many sequences is bound by reading their cached keys and values from memory, and
half the bytes made a 16-sequence SmolLM2 step 160 -> 117 ms (measured before the loader's malloc setting
was undone, `glossa.infer.quantized._mallopt`; it also fits twice the tokens), but the attention matmuls
then run in bf16 (widening the gathered keys to float32 cost more than it saved), and 4 of 16 Shakespeare
prompts left the float32 cache's greedy path within 64 tokens (after 2, 2, 7 and 24). The default is the
model's dtype.

The server and the CLI are thin clients: `add_request`/`abort`/`step` for a loop of their own, `generate`
for a batch, `stream`/`astream` for one request's incremental outputs. Every public call holds one lock, so
an HTTP thread may add or abort while another steps. Bad input raises `GlossaError` before anything is
allocated; an error inside a step aborts the requests of that step, so no blocks leak.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from glossa.errors import GlossaError
from glossa.infer.dense_prefill import keep_dense_copies
from glossa.infer.detokenize import IncrementalDetokenizer
from glossa.infer.kv_cache import BLOCK_SIZE, PagedKVCache, kv_bytes_per_token
from glossa.infer.metrics import EngineStats, RequestMetrics
from glossa.infer.params import SamplingParams
from glossa.infer.request import Request, RequestStatus
from glossa.infer.runner import ModelRunner, SequenceChunk, model_dtype_device
from glossa.infer.sampler import Sampler, apply_logits_processors, generator_for
from glossa.infer.scheduler import Scheduler
from glossa.infer.speculative import greedy_verify, target_probs, verify
from glossa.models.transformer import Transformer
from glossa.tokenizers.base import Tokenizer

DEFAULT_KV_CACHE_BYTES = 512 * 1024 * 1024


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    logprobs: list[float] | None
    top_logprobs: list[dict[int, float]] | None
    finish_reason: str | None
    stop_reason: str | int | None = None
    delta_text: str = ""
    delta_token_ids: list[int] = field(default_factory=list)


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool
    metrics: RequestMetrics
    num_cached_tokens: int = 0

    @property
    def text(self) -> str:
        return self.outputs[0].text

    @property
    def token_ids(self) -> list[int]:
        return self.outputs[0].token_ids


class Engine:
    def __init__(
        self,
        model: Transformer,
        tokenizer: Tokenizer | None = None,
        *,
        max_num_seqs: int = 16,
        max_num_batched_tokens: int = 512,
        num_blocks: int | None = None,
        kv_cache_bytes: int | None = None,
        max_model_len: int | None = None,
        block_size: int = BLOCK_SIZE,
        enable_prefix_caching: bool = True,
        speculative: object | None = None,
        num_speculative_tokens: int = 4,
        cache: object | None = None,
        dense_prefill: bool = True,
        kv_cache_dtype: torch.dtype | None = None,
    ) -> None:
        config = model.config
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_model_len = min(max_model_len or config.context_length, config.context_length)
        if max_model_len is not None and max_model_len < 1:
            raise GlossaError(f"max_model_len must be at least 1, not {max_model_len}")
        dtype, device = model_dtype_device(model)
        dtype = kv_cache_dtype or dtype
        if cache is None:
            per_block = block_size * kv_bytes_per_token(
                config.n_layers, config.kv_heads, config.attention_head_dim, dtype
            )
            if num_blocks is None:
                wanted = max_num_seqs * -(-self.max_model_len // block_size)
                affordable = (kv_cache_bytes or DEFAULT_KV_CACHE_BYTES) // per_block
                num_blocks = min(wanted, affordable) if kv_cache_bytes is None else affordable
            if num_blocks < 1:
                raise GlossaError(f"the KV cache needs at least one block ({per_block} bytes each)")
            cache = PagedKVCache(
                config.n_layers,
                config.kv_heads,
                config.attention_head_dim,
                num_blocks=num_blocks,
                block_size=block_size,
                dtype=dtype,
                device=device,
                enable_prefix_caching=enable_prefix_caching,
            )
        pool_tokens = cache.num_blocks * getattr(cache, "block_size", self.max_model_len)
        if pool_tokens < self.max_model_len:  # one request alone must always fit, or it would preempt itself
            if max_model_len is not None:
                raise GlossaError(
                    f"max_model_len {self.max_model_len} is more than the KV cache holds "
                    f"({pool_tokens} tokens): lower max_model_len or give the cache more blocks"
                )
            self.max_model_len = pool_tokens
        self.cache = cache
        # int4 projections get a bf16 copy that prompt tokens run through (glossa.infer.dense_prefill)
        self.dense_weight_bytes = keep_dense_copies(model.layers) if dense_prefill else 0
        self.runner = ModelRunner(model, cache, dense_prefill=self.dense_weight_bytes > 0)
        self.scheduler = Scheduler(
            cache, max_num_seqs=max_num_seqs, max_num_batched_tokens=max_num_batched_tokens
        )
        self.sampler = Sampler()
        self.speculative = speculative
        self.num_speculative_tokens = num_speculative_tokens
        self.stats = EngineStats(kv_blocks_total=cache.num_blocks)
        self._groups: dict[str, list[Request]] = {}  # user request id -> its samples (index 0 = itself)
        self._streams: dict[str, deque[RequestOutput]] = {}
        self._lock = threading.RLock()
        self._async_lock: asyncio.Lock | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    # -- requests in and out --------------------------------------------------------------------------------

    def add_request(
        self,
        prompt: str | Sequence[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
        priority: int = 0,
        *,
        truncate_prompt_tokens: bool = False,
    ) -> str:
        """Queue a prompt (text, or token ids); returns its id. Checks everything before allocating."""
        params = params or SamplingParams()
        if not isinstance(params, SamplingParams):
            raise GlossaError(f"params must be a SamplingParams, not {type(params).__name__}")
        if params.use_beam_search:
            raise GlossaError("the engine does not run beam search: use glossa.infer.beam")
        text, ids = self._prompt_ids(prompt)
        limit = self.max_model_len - 1  # room for at least one generated token
        if len(ids) > limit:
            if not truncate_prompt_tokens:
                raise GlossaError(
                    f"the prompt has {len(ids)} tokens but the model takes at most {self.max_model_len} "
                    f"(max_model_len) including at least one generated token: shorten it to {limit} tokens "
                    "or ask for truncation"
                )
            ids = ids[-limit:]
        needed_blocks = -(-(len(ids) + 1) // getattr(self.cache, "block_size", self.max_model_len))
        if needed_blocks > self.cache.num_blocks:
            raise GlossaError(
                f"the prompt needs {needed_blocks} KV blocks but the cache holds only "
                f"{self.cache.num_blocks}: "
                "give the engine more KV cache memory"
            )
        with self._lock:
            request_id = request_id if request_id is not None else uuid.uuid4().hex
            if request_id in self._groups:
                raise GlossaError(f"a request with id {request_id!r} is already in the engine")
            request = Request(request_id, ids, params, priority=priority, prompt=text)
            request.metrics.prompt_tokens = len(ids)
            request.generator = generator_for(params)
            request.detokenizer = self._detokenizer(params)
            self._groups[request_id] = [request]
            self.scheduler.add(request)
        return request_id

    def abort(self, request_id: str) -> bool:
        """Cancel a request (all its samples) now, wherever it is; its KV blocks are freed at once."""
        with self._lock:
            group = self._groups.pop(request_id, None)
            if group is None:
                return False
            self.scheduler.abort(request_id)
            for request in group:
                if not request.is_finished:
                    request.status, request.finish_reason = RequestStatus.FINISHED, "abort"
                self.cache.free(request.request_id)
                if self.speculative is not None:
                    self.speculative.forget(request.request_id)
            stream = self._streams.get(request_id)
            if stream is not None:
                stream.append(self._output(group))
            return True

    def has_unfinished_requests(self) -> bool:
        return self.scheduler.has_unfinished

    # -- the step -------------------------------------------------------------------------------------------

    def step(self) -> list[RequestOutput]:
        """Schedule, run one forward pass, sample, check stops; the outputs of requests that progressed."""
        with self._lock:
            self._propose_drafts()
            plan = self.scheduler.schedule()
            self.stats.num_preemptions = self.scheduler.num_preemptions
            if not plan.scheduled:
                self._update_gauges()
                return []
            chunks = []
            for item in plan.scheduled:
                request, count = item.request, item.num_new_tokens
                ids = request.all_ids + request.spec_token_ids
                start = request.num_computed_tokens
                reaches_end = start + count == len(ids)
                kind = ("all" if request.spec_token_ids else "last") if reaches_end else "none"
                prompt = min(count, max(0, len(request.prompt_ids) - start))
                chunks.append(
                    SequenceChunk(request.request_id, ids[start : start + count], start, kind, prompt)
                )
            try:
                logits = self.runner.execute(chunks)
            except Exception:
                for item in plan.scheduled:  # nothing may stay allocated after a failed step
                    self.abort(item.request.parent_id or item.request.request_id)
                raise
            self.stats.steps += 1
            touched: dict[str, None] = {}
            to_sample: list[tuple[Request, torch.Tensor]] = []
            for item, row in zip(plan.scheduled, logits, strict=True):
                request = item.request
                start = request.num_computed_tokens
                self.stats.prompt_tokens_computed += max(
                    0, min(start + item.num_new_tokens, len(request.prompt_ids)) - start
                )
                request.num_computed_tokens += item.num_new_tokens
                if row is None:
                    if request.spec_token_ids:  # the budget cut the drafts off: recompute the last token
                        request.num_computed_tokens = request.num_tokens - 1
                        request.spec_token_ids, request.spec_draft_probs = [], None
                    self.cache.commit(request.request_id, request.all_ids[: request.num_computed_tokens])
                    continue
                if request.spec_token_ids:
                    self._accept_drafts(request, row)
                    touched[request.parent_id or request.request_id] = None
                    continue
                self.cache.commit(request.request_id, request.all_ids)
                if request.params.n > 1 and not request.output_ids and request.parent_id is None:
                    for sibling in self._fork(request):
                        to_sample.append((sibling, row))
                to_sample.append((request, row))
            self._sample(to_sample)
            for request, _ in to_sample:
                touched[request.parent_id or request.request_id] = None
            outputs = []
            for request_id in touched:
                group = self._groups.get(request_id)
                if group is None:
                    continue
                output = self._output(group)
                outputs.append(output)
                if output.finished:
                    del self._groups[request_id]
                if request_id in self._streams:
                    self._streams[request_id].append(output)
            self._update_gauges()
            return outputs

    def _sample(self, rows: list[tuple[Request, torch.Tensor]]) -> None:
        if not rows:
            return
        requests = [request for request, _ in rows]
        logits = torch.stack([row for _, row in rows])
        params = [r.params for r in requests]
        logits = apply_logits_processors(logits, params, [r.output_ids for r in requests])
        result = self.sampler.sample(
            logits,
            params,
            histories=[r.all_ids for r in requests],
            output_counts=[r.output_counts for r in requests],
            generators=[r.generator for r in requests],
        )
        tokens = result.token_ids.tolist()
        logprobs = result.logprobs.tolist()
        for index, request in enumerate(requests):
            top = result.top_logprobs[index] if result.top_logprobs is not None else None
            self._append(request, [tokens[index]], [logprobs[index]], [dict(top)] if top else None)

    def _append(
        self,
        request: Request,
        tokens: list[int],
        logprobs: list[float] | None,
        top: list[dict[int, float]] | None,
    ) -> None:
        """Add tokens one at a time, stopping at the first that finishes the request."""
        now = time.perf_counter()
        params = request.params
        eos = self.tokenizer.eos_id if self.tokenizer is not None else None
        for index, token in enumerate(tokens):
            request.output_ids.append(token)
            request.output_counts[token] = request.output_counts.get(token, 0) + 1
            request.delta_ids.append(token)
            if params.logprobs is not None and logprobs is not None:
                request.logprobs.append(logprobs[index])
                request.top_logprobs.append(top[index] if top else {})
            request.metrics.record_token(now)
            self.stats.generated_tokens += 1
            reason: str | None = None
            stop_reason: str | int | None = None
            detok = request.detokenizer
            if isinstance(detok, IncrementalDetokenizer):
                request.delta_text += detok.feed([token])
            if token in params.stop_token_ids:
                reason, stop_reason = "stop", token
            elif token == eos and not params.ignore_eos:
                reason = "stop"
            elif isinstance(detok, IncrementalDetokenizer) and detok.finished:
                reason, stop_reason = "stop", detok.stop_string
            elif len(request.output_ids) >= params.max_tokens or request.num_tokens >= self.max_model_len:
                reason = "length"
            if reason is not None:
                if isinstance(detok, IncrementalDetokenizer):
                    request.delta_text += detok.finish(reason)
                self._finish(request, reason, stop_reason)
                return

    def _finish(self, request: Request, reason: str, stop_reason: str | int | None) -> None:
        request.finish_reason, request.stop_reason = reason, stop_reason
        request.metrics.finished_time = time.perf_counter()
        self.scheduler.finish(request)
        if self.speculative is not None:
            self.speculative.forget(request.request_id)

    def _fork(self, parent: Request) -> list[Request]:
        """n − 1 siblings that share the parent's computed prompt blocks."""
        siblings = []
        for index in range(1, parent.params.n):
            child = Request(
                f"{parent.request_id}#{index}",
                list(parent.prompt_ids),
                parent.params,
                priority=parent.priority,
                prompt=parent.prompt,
                parent_id=parent.request_id,
                sample_index=index,
                status=RequestStatus.RUNNING,
                num_computed_tokens=parent.num_computed_tokens,
                num_cached_tokens=parent.num_cached_tokens,
                arrival_order=parent.arrival_order,
            )
            child.metrics = RequestMetrics(
                arrival_time=parent.metrics.arrival_time,
                first_scheduled_time=parent.metrics.first_scheduled_time,
                prompt_tokens=parent.metrics.prompt_tokens,
            )
            seed = parent.params.seed
            if seed is not None:
                child.generator = torch.Generator().manual_seed((seed + index) % (1 << 64))
            child.detokenizer = self._detokenizer(parent.params)
            self.cache.fork(parent.request_id, child.request_id)
            self.scheduler.running.append(child)
            self._groups[parent.request_id].append(child)
            siblings.append(child)
        return siblings

    # -- speculative decoding -------------------------------------------------------------------------------

    def _propose_drafts(self) -> None:
        proposer = self.speculative
        if proposer is None:
            return
        for request in self.scheduler.running:
            request.spec_token_ids, request.spec_draft_probs = [], None
            params = request.params
            if request.num_computed_tokens != request.num_tokens - 1 or not request.output_ids:
                continue
            if params.repetition_penalty != 1 or params.frequency_penalty or params.presence_penalty:
                continue
            if params.logprobs is not None or params.logits_processors:
                continue
            room = min(
                self.num_speculative_tokens,
                params.max_tokens - len(request.output_ids) - 1,
                self.max_model_len - request.num_tokens - 1,
            )
            if room < 1:
                continue
            if hasattr(proposer, "model"):
                drafts, probs = proposer.propose(
                    request.request_id, request.all_ids, params, room, generator=request.generator
                )
            else:
                drafts, probs = proposer.propose(request.request_id, request.all_ids, params, room)
            request.spec_token_ids, request.spec_draft_probs = list(drafts), probs
            self.stats.spec_proposed += len(drafts)

    def _accept_drafts(self, request: Request, rows: torch.Tensor) -> None:
        drafts = request.spec_token_ids
        if request.params.is_greedy:
            penalised = target_probs(rows, request.params)
            accepted = greedy_verify(drafts, penalised.argmax(-1).tolist())
        else:
            accepted = verify(
                drafts, target_probs(rows, request.params), request.spec_draft_probs, request.generator
            )
        self.stats.spec_accepted += len(accepted) - 1
        request.spec_token_ids, request.spec_draft_probs = [], None
        request.num_computed_tokens = request.num_tokens + len(accepted) - 1  # last + accepted drafts
        self.cache.commit(request.request_id, request.all_ids + accepted[:-1])
        self._append(request, accepted, None, None)

    # -- batch and streaming front ends ---------------------------------------------------------------------

    def generate(
        self,
        prompts: str | Sequence[int] | Sequence[str | Sequence[int]],
        params: SamplingParams | Sequence[SamplingParams] | None = None,
    ) -> list[RequestOutput]:
        """Run every prompt to completion (batched continuously); outputs in the prompts' order."""
        if isinstance(prompts, str) or (prompts and isinstance(prompts[0], int)):
            prompts = [prompts]  # type: ignore[list-item]
        prompts = list(prompts)  # type: ignore[arg-type]
        if isinstance(params, Sequence):
            if len(params) != len(prompts):
                raise GlossaError(f"{len(prompts)} prompts but {len(params)} sampling params")
            all_params = list(params)
        else:
            all_params = [params or SamplingParams()] * len(prompts)
        ids: list[str] = []
        try:
            for prompt, p in zip(prompts, all_params, strict=True):
                ids.append(self.add_request(prompt, p))
        except GlossaError:
            for request_id in ids:
                self.abort(request_id)
            raise
        final: dict[str, RequestOutput] = {}
        while len(final) < len(ids):
            if not self.has_unfinished_requests():
                raise GlossaError("the engine stopped with requests unfinished")  # pragma: no cover
            for output in self.step():
                if output.finished:
                    final[output.request_id] = output
        return [final[request_id] for request_id in ids]

    def stream(
        self,
        prompt: str | Sequence[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
        priority: int = 0,
    ) -> Iterator[RequestOutput]:
        """Incremental outputs of one request (`delta_text` is the new text); stepping the whole engine, so
        several streams in one thread interleave. Closing the iterator early aborts the request."""
        request_id, queue = self._open_stream(prompt, params, request_id, priority)
        finished = False
        try:
            while not finished:
                while not queue:
                    self.step()
                output = queue.popleft()
                finished = output.finished
                yield output
        finally:
            self._streams.pop(request_id, None)
            if not finished:
                self.abort(request_id)

    def _open_stream(
        self,
        prompt: str | Sequence[int],
        params: SamplingParams | None,
        request_id: str | None,
        priority: int,
    ) -> tuple[str, deque[RequestOutput]]:
        """Add the request and the queue its outputs are delivered to."""
        request_id = self.add_request(prompt, params, request_id, priority)
        queue: deque[RequestOutput] = deque()
        self._streams[request_id] = queue
        return request_id, queue

    async def astream(
        self,
        prompt: str | Sequence[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
        priority: int = 0,
    ) -> AsyncIterator[RequestOutput]:
        """`stream` for asyncio: steps run in a worker thread, one at a time for all concurrent streams."""
        loop = asyncio.get_running_loop()
        if self._async_lock is None or self._async_loop is not loop:  # an asyncio.Lock belongs to one loop
            self._async_lock, self._async_loop = asyncio.Lock(), loop
        request_id, queue = self._open_stream(prompt, params, request_id, priority)
        finished = False
        try:
            while not finished:
                if not queue:
                    async with self._async_lock:  # one step at a time; each step feeds every stream
                        if not queue:
                            await asyncio.to_thread(self.step)
                    continue
                output = queue.popleft()
                finished = output.finished
                yield output
        finally:
            self._streams.pop(request_id, None)
            if not finished:
                self.abort(request_id)

    # -- helpers --------------------------------------------------------------------------------------------

    def _prompt_ids(self, prompt: str | Sequence[int]) -> tuple[str | None, list[int]]:
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise GlossaError("this engine has no tokenizer: pass token ids, or give Engine a tokenizer")
            ids = self.tokenizer.encode(prompt, add_special_tokens=True)
            text: str | None = prompt
        else:
            ids, text = list(prompt), None
            vocab = self.model.config.vocab_size
            bad = [t for t in ids if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < vocab]
            if bad:
                raise GlossaError(f"prompt token ids must be integers in [0, {vocab}), got {bad[0]!r}")
        if not ids:
            raise GlossaError("the prompt is empty: give at least one token")
        return text, ids

    def _detokenizer(self, params: SamplingParams) -> IncrementalDetokenizer | None:
        if self.tokenizer is None:
            return None
        return IncrementalDetokenizer(self.tokenizer, params.stop or ())

    def _output(self, group: list[Request]) -> RequestOutput:
        first = group[0]
        completions = []
        for request in group:
            detok = request.detokenizer
            text = detok.text if isinstance(detok, IncrementalDetokenizer) else ""
            asked = request.params.logprobs is not None
            completions.append(
                CompletionOutput(
                    index=request.sample_index,
                    text=text,
                    token_ids=list(request.output_ids),
                    logprobs=list(request.logprobs) if asked else None,
                    top_logprobs=list(request.top_logprobs) if asked else None,
                    finish_reason=request.finish_reason,
                    stop_reason=request.stop_reason,
                    delta_text=request.delta_text,
                    delta_token_ids=list(request.delta_ids),
                )
            )
            request.delta_text, request.delta_ids = "", []
        finished = all(r.is_finished for r in group) and (
            len(group) == first.params.n or first.finish_reason == "abort"
        )
        return RequestOutput(
            request_id=first.request_id,
            prompt=first.prompt,
            prompt_token_ids=list(first.prompt_ids),
            outputs=completions,
            finished=finished,
            metrics=first.metrics,
            num_cached_tokens=first.num_cached_tokens,
        )

    def _update_gauges(self) -> None:
        stats = self.stats
        stats.num_running = len(self.scheduler.running)
        stats.num_waiting = len(self.scheduler.waiting)
        stats.kv_blocks_used = self.cache.num_blocks - self.cache.num_free_blocks
        stats.prefix_cache_hit_rate = getattr(self.cache, "prefix_hit_rate", 0.0)

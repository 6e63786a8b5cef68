"""`glossa generate`, `glossa chat` and `glossa bench …`: thin clients of `glossa.infer.engine.Engine`.

    glossa generate --model smollm2 "The capital of France is" --max-tokens 32 --temperature 0
    glossa generate --model smollm2 "Write a haiku about the sea" --chat --top-p 0.9 --seed 1
    glossa chat --model smollm2                         interactive, streaming, with the chat template
    glossa bench latency --model smollm2                batch 8, 32 in / 128 out (as `vllm bench latency`)
    glossa bench throughput --model smollm2 -n 16       N requests at once: requests/s and tokens/s

`--precision` picks the weights: `fp32` (the dequantised GGUF), `bf16`, or `fast` (int4 weight-only linear
layers, `glossa.infer.quantized`). `--speculative ngram` turns on prompt-lookup drafting. Everything heavy is
imported inside the commands so `glossa --help` stays fast.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from glossa.cli.console import console, err_console
from glossa.errors import GlossaError

PRECISIONS = ("fp32", "bf16", "fast")

bench_app = typer.Typer(
    name="bench", help="Latency and throughput of the inference engine.", no_args_is_help=True
)

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="registered name, .gguf file or model folder")
]
PrecisionOption = Annotated[str, typer.Option("--precision", help="fp32, bf16 or fast (int4 weight-only)")]
ThreadsOption = Annotated[int, typer.Option("--threads", help="torch threads (0: torch's default)")]


def register(app: typer.Typer) -> None:
    """Add `glossa generate`, `glossa chat` and `glossa bench` to the glossa app."""
    app.command("generate")(generate)
    app.command("chat")(chat)
    app.add_typer(bench_app, name="bench")


def build_engine(model: str, precision: str, threads: int, **engine_options):
    """Load the model and tokenizer and wrap them in an Engine."""
    import torch

    from glossa.infer.engine import Engine
    from glossa.models.loading import load_model
    from glossa.tokenizers.loading import load_tokenizer

    if precision not in PRECISIONS:
        raise GlossaError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if threads < 0:
        raise GlossaError(f"--threads must be 0 (default) or more, not {threads}")
    if threads:
        torch.set_num_threads(threads)
    if precision == "fast":
        from glossa.infer.quantized import load_fast_model

        loaded = load_fast_model(model)
    else:
        loaded = load_model(model, dtype=torch.bfloat16 if precision == "bf16" else torch.float32)
    return Engine(loaded, load_tokenizer(model), **engine_options)


def sampling_params(
    max_tokens: int, temperature: float, top_p: float, top_k: int, seed: int | None, stop, n: int = 1
):
    from glossa.infer.params import SamplingParams

    return SamplingParams(
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        seed=seed,
        stop=stop or (),
        n=n,
    )


def generate(
    prompt: Annotated[str, typer.Argument(help="the prompt text")],
    model: ModelOption = "smollm2",
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="tokens to generate at most")] = 64,
    temperature: Annotated[float, typer.Option(help="0 = greedy")] = 0.7,
    top_p: Annotated[float, typer.Option("--top-p")] = 1.0,
    top_k: Annotated[int, typer.Option("--top-k", help="0 = off")] = 0,
    seed: Annotated[int | None, typer.Option(help="seed for reproducible sampling")] = None,
    stop: Annotated[list[str] | None, typer.Option(help="stop string (repeatable)")] = None,
    n: Annotated[int, typer.Option("-n", help="samples of the same prompt (one shared prefill)")] = 1,
    as_chat: Annotated[
        bool, typer.Option("--chat", help="wrap the prompt in the model's chat template")
    ] = False,
    speculative: Annotated[str, typer.Option(help="none or ngram (prompt-lookup drafting)")] = "none",
    precision: PrecisionOption = "fp32",
    threads: ThreadsOption = 0,
) -> None:
    """Generate a completion for PROMPT, streamed to the terminal (n = 1) or printed per sample."""
    options: dict[str, object] = {"max_num_seqs": max(n, 1), "max_model_len": 2048}
    if speculative == "ngram":
        from glossa.infer.speculative import NgramProposer

        options["speculative"] = NgramProposer()
    elif speculative != "none":
        raise GlossaError(f"unknown --speculative {speculative!r}: use none or ngram")
    params = sampling_params(max_tokens, temperature, top_p, top_k, seed, stop, n)
    engine = build_engine(model, precision, threads, **options)
    text = engine.tokenizer.apply_chat_template([{"role": "user", "content": prompt}]) if as_chat else prompt
    start = time.perf_counter()
    final = None
    for output in engine.stream(text, params):
        if n == 1:
            console.print(output.outputs[0].delta_text, end="", markup=False, highlight=False, soft_wrap=True)
        final = output
    elapsed = time.perf_counter() - start
    if final is None:
        return
    if n == 1:
        console.print()
    else:
        for completion in final.outputs:
            console.print(f"[bold]#{completion.index}[/]", completion.text, highlight=False)
    generated = sum(len(c.token_ids) for c in final.outputs)
    metrics = final.metrics
    line = (
        f"{generated} tokens in {elapsed:.2f} s ({generated / max(elapsed, 1e-9):.1f} tok/s), "
        f"TTFT {1000 * (metrics.ttft or 0):.0f} ms"
    )
    if metrics.tpot is not None:
        line += f", TPOT {1000 * metrics.tpot:.1f} ms"
    if engine.stats.spec_proposed:
        line += f", speculative acceptance {engine.stats.spec_acceptance_rate:.0%}"
    err_console.print(f"[dim]{line}; finish: {final.outputs[0].finish_reason}[/]")


def chat(
    model: ModelOption = "smollm2",
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 256,
    temperature: Annotated[float, typer.Option()] = 0.7,
    top_p: Annotated[float, typer.Option("--top-p")] = 0.9,
    system: Annotated[str | None, typer.Option(help="a system message")] = None,
    precision: PrecisionOption = "fp32",
    threads: ThreadsOption = 0,
) -> None:
    """Talk to the model: streamed replies with the chat template; an empty line or Ctrl-D ends."""
    engine = build_engine(model, precision, threads, max_num_seqs=1, max_model_len=2048)
    params = sampling_params(max_tokens, temperature, top_p, 0, None, None)
    messages = [{"role": "system", "content": system}] if system else []
    err_console.print("[dim]chat with the model; an empty line or Ctrl-D ends[/]")
    while True:
        try:
            user = input("> ")
        except (EOFError, KeyboardInterrupt):
            break
        if not user.strip():
            break
        messages.append({"role": "user", "content": user})
        prompt = engine.tokenizer.apply_chat_template(messages)
        reply, start, final = "", time.perf_counter(), None
        try:
            for output in engine.stream(prompt, params):
                piece = output.outputs[0].delta_text
                reply += piece
                console.print(piece, end="", markup=False, highlight=False, soft_wrap=True)
                final = output
        except GlossaError as error:
            err_console.print(f"[red]{error}[/]")
            messages.pop()
            continue
        console.print()
        messages.append({"role": "assistant", "content": reply})
        if final is not None:
            count = len(final.token_ids)
            elapsed = time.perf_counter() - start
            err_console.print(f"[dim]{count} tokens, {count / max(elapsed, 1e-9):.1f} tok/s[/]")


@bench_app.command("latency")
def bench_latency(
    model: ModelOption = "smollm2",
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    input_len: Annotated[int, typer.Option("--input-len")] = 32,
    output_len: Annotated[int, typer.Option("--output-len")] = 128,
    iterations: Annotated[int, typer.Option("--iterations")] = 3,
    precision: PrecisionOption = "fp32",
    threads: ThreadsOption = 0,
) -> None:
    """Seconds to run one batch of `batch_size` prompts to `output_len` tokens (vLLM's `bench latency`)."""
    from glossa.infer.metrics import summarize

    if min(batch_size, input_len, output_len, iterations) < 1:
        raise GlossaError("batch size, lengths and iterations must all be at least 1")
    engine = build_engine(
        model, precision, threads, max_num_seqs=batch_size, max_model_len=input_len + output_len + 1,
        max_num_batched_tokens=max(512, batch_size * input_len), enable_prefix_caching=False,
    )  # fmt: skip
    params = _fixed_length(output_len)
    prompts = _random_prompts(batch_size, input_len, engine.model.config.vocab_size)
    engine.generate(prompts[:1], _fixed_length(4))  # warm-up
    latencies = []
    for _ in range(iterations):
        start = time.perf_counter()
        engine.generate(prompts, params)
        latencies.append(time.perf_counter() - start)
    stats = summarize(latencies)
    table = Table(title=f"latency: batch {batch_size}, {input_len} in / {output_len} out ({precision})")
    for column in ("mean s", "p50 s", "p99 s", "output tok/s"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{stats['mean']:.2f}", f"{stats['p50']:.2f}", f"{stats['p99']:.2f}",
        f"{batch_size * output_len / stats['mean']:.1f}",
    )  # fmt: skip
    console.print(table)


@bench_app.command("throughput")
def bench_throughput(
    model: ModelOption = "smollm2",
    num_requests: Annotated[int, typer.Option("--num-requests", "-n")] = 16,
    input_len: Annotated[int, typer.Option("--input-len")] = 32,
    output_len: Annotated[int, typer.Option("--output-len")] = 128,
    max_num_seqs: Annotated[int, typer.Option("--max-num-seqs")] = 16,
    precision: PrecisionOption = "fp32",
    threads: ThreadsOption = 0,
) -> None:
    """N requests at once through continuous batching: requests/s, tokens/s, TTFT and TPOT."""
    from glossa.infer.metrics import summarize, throughput

    if min(num_requests, input_len, output_len, max_num_seqs) < 1:
        raise GlossaError("request count, lengths and --max-num-seqs must all be at least 1")
    engine = build_engine(
        model, precision, threads, max_num_seqs=max_num_seqs, max_model_len=input_len + output_len + 1,
        max_num_batched_tokens=512, enable_prefix_caching=False,
    )  # fmt: skip
    prompts = _random_prompts(num_requests, input_len, engine.model.config.vocab_size)
    engine.generate(prompts[:1], _fixed_length(4))  # warm-up
    start = time.perf_counter()
    outputs = engine.generate(prompts, _fixed_length(output_len))
    end = time.perf_counter()
    metrics = [o.metrics for o in outputs]
    rates = throughput(metrics, start, end)
    ttft = summarize([m.ttft or 0.0 for m in metrics])
    tpot = summarize([m.tpot or 0.0 for m in metrics])
    table = Table(
        title=f"throughput: {num_requests} requests, {input_len} in / {output_len} out ({precision})"
    )
    for column in ("requests/s", "output tok/s", "total tok/s", "TTFT p50 ms", "TPOT p50 ms", "TPOT p99 ms"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{rates['requests_per_s']:.2f}", f"{rates['output_tokens_per_s']:.1f}",
        f"{rates['total_tokens_per_s']:.1f}", f"{1000 * ttft['p50']:.0f}", f"{1000 * tpot['p50']:.1f}",
        f"{1000 * tpot['p99']:.1f}",
    )  # fmt: skip
    console.print(table)


def _fixed_length(tokens: int):
    from glossa.infer.params import SamplingParams

    return SamplingParams(temperature=0, max_tokens=tokens, ignore_eos=True)


def _random_prompts(count: int, length: int, vocab_size: int) -> list[list[int]]:
    import torch

    generator = torch.Generator().manual_seed(0)
    return torch.randint(100, vocab_size, (count, length), generator=generator).tolist()

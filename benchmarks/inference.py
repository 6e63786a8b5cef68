"""Inference speed of SmolLM2-135M-Instruct: glossa `fast` and `exact` against transformers and llama.cpp.

One run, one process, the same GGUF file and the same token ids for everyone, `--threads` threads (2):

- decode tok/s at batch 1: the chat prompt "What is the capital of France?", then `--decode` greedy steps
  (timed after the prefill; EOS ignored so every system decodes the same number of tokens);
- prefill tok/s: the first `--prefill` (512) tokens of tiny Shakespeare in one forward;
- transformers at batch 8: eight copies of the chat prompt, `--decode` steps, tokens/s over all rows;
- llama.cpp through `llama-cpp-python` (if installed), the same GGUF with the same thread count;
- top-1 agreement with the float32 reference: teacher-forced over the same `--agreement` (1024) tokens of
  tiny Shakespeare, argmaxes compared position by position; `fast` both through its prefill path (all
  positions in one forward) and its decode path (one token per step), llama.cpp (if installed) too;
- `exact` greedy tokens against transformers' (`--decode` steps from the chat prompt): identical or not;
- the engine: `--engine-requests` (16) concurrent requests of 128 prompt tokens and 128 greedy output tokens
  through `glossa.Engine` on the `fast` model, total output tokens/s;
- peak RSS of a fresh process that loads the `fast` model and decodes (and of one that only imports torch);
- the bytes of weights read per decoded token over the time per token, against the ~74 GB/s these CPUs read.

Every timing is the best of `--repeats` runs (the machine is shared); each figure and ratio is printed.

    .venv/bin/python benchmarks/inference.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch

import glossa
from glossa.artifacts import smollm2_gguf
from glossa.infer.engine import Engine
from glossa.infer.fast_decode import FastDecoder, greedy_generate
from glossa.infer.params import SamplingParams
from glossa.infer.quantized import load_fast_model

SHAKESPEARE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"
MEMORY_BANDWIDTH_GBS = 74.0  # measured on these CPUs (DESIGN.md)
RSS_WORKER = """
import sys, torch
torch.set_num_threads({threads})
if sys.argv[1] == "fast":
    from glossa.infer.fast_decode import greedy_generate
    from glossa.infer.quantized import load_fast_model
    greedy_generate(load_fast_model("smollm2"), list(range(100, 140)), 16)
# VmHWM: this process's own peak (ru_maxrss would start from the parent's peak, inherited at fork)
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024)
"""


def best_of(repeats: int, run) -> float:
    """The shortest of `repeats` timings of `run()` (seconds)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def glossa_decode(decoder: FastDecoder, prompt: list[int], steps: int, repeats: int) -> float:
    def run() -> None:
        decoder.reset()
        logits = decoder.forward(torch.tensor(prompt))
        for _ in range(steps):
            logits = decoder.forward(torch.tensor([int(logits.argmax())]))

    prefill = best_of(repeats, lambda: (decoder.reset(), decoder.forward(torch.tensor(prompt))))
    total = best_of(repeats, run)
    return steps / (total - prefill)


def glossa_prefill(decoder: FastDecoder, ids: list[int], repeats: int) -> float:
    def run() -> None:
        decoder.reset()
        decoder.forward(torch.tensor(ids))

    return len(ids) / best_of(repeats, run)


def hf_decode(model, prompts: list[list[int]], steps: int, repeats: int) -> float:
    ids = torch.tensor(prompts)

    def run(decode: bool) -> None:
        with torch.inference_mode():
            out = model(ids, use_cache=True)
            if not decode:
                return
            for _ in range(steps):
                token = out.logits[:, -1].argmax(-1, keepdim=True)
                out = model(token, past_key_values=out.past_key_values, use_cache=True)

    prefill = best_of(repeats, lambda: run(False))
    total = best_of(repeats, lambda: run(True))
    return len(prompts) * steps / (total - prefill)


def hf_prefill(model, ids: list[int], repeats: int) -> float:
    tensor = torch.tensor([ids])

    def run() -> None:
        with torch.inference_mode():
            model(tensor, use_cache=False)

    return len(ids) / best_of(repeats, run)


def hf_greedy(model, prompt: list[int], steps: int) -> list[int]:
    with torch.inference_mode():
        out = model(torch.tensor([prompt]), use_cache=True)
        tokens: list[int] = []
        for _ in range(steps):
            tokens.append(int(out.logits[0, -1].argmax()))
            out = model(torch.tensor([tokens[-1:]]), past_key_values=out.past_key_values, use_cache=True)
    return tokens


def llama_cpp_figures(
    prompt: list[int],
    prefill_ids: list[int],
    steps: int,
    threads: int,
    repeats: int,
    agreement_ids: list[int],
):
    """(decode tok/s, prefill tok/s, argmaxes over `agreement_ids` teacher-forced), or None."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(
        model_path=str(smollm2_gguf()),
        n_threads=threads,
        n_threads_batch=threads,
        n_ctx=max(1024, len(agreement_ids)),
        n_batch=512,
        logits_all=True,
        verbose=False,
    )

    def decode(run_steps: int) -> None:
        llm.reset()
        llm.eval(prompt)
        for _ in range(run_steps):
            token = int(llm.scores[llm.n_tokens - 1].argmax())
            llm.eval([token])

    prefill_prompt = best_of(repeats, lambda: decode(0))
    total = best_of(repeats, lambda: decode(steps))

    def prefill() -> None:
        llm.reset()
        llm.eval(prefill_ids)

    decode_speed, prefill_speed = (
        steps / (total - prefill_prompt),
        len(prefill_ids) / best_of(repeats, prefill),
    )
    llm.reset()
    llm.eval(agreement_ids)
    top = torch.tensor(llm.scores[: len(agreement_ids)].argmax(-1))
    return decode_speed, prefill_speed, top


def reference_argmax(reference, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return reference(torch.tensor([ids])).logits[0].argmax(-1)


def agreement(fast: FastDecoder, reference_top: torch.Tensor, ids: list[int]) -> tuple[float, float]:
    """Top-1 agreement through the prefill path (one forward) and the decode path (one token a step)."""
    fast.reset()
    prefill_top = fast.forward(torch.tensor(ids), all_logits=True).argmax(-1)
    fast.reset()
    decode_top = torch.stack([fast.forward(torch.tensor([token])).argmax() for token in ids])
    return (
        float((prefill_top == reference_top).float().mean()),
        float((decode_top == reference_top).float().mean()),
    )


def engine_throughput(model, prompts: list[list[int]], max_tokens: int) -> float:
    """Total output tokens/s of `len(prompts)` requests submitted together to one Engine."""
    engine = Engine(model, max_num_seqs=len(prompts), max_model_len=max(map(len, prompts)) + max_tokens + 1)
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
    engine.generate([prompts[0][:8]], SamplingParams(temperature=0.0, max_tokens=2))  # warm up
    started = time.perf_counter()
    outputs = engine.generate(prompts, params)
    elapsed = time.perf_counter() - started
    return sum(len(output.outputs[0].token_ids) for output in outputs) / elapsed


def peak_rss_mib(which: str, threads: int) -> float:
    code = RSS_WORKER.format(threads=threads)
    result = subprocess.run([sys.executable, "-c", code, which], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def weight_bytes(model) -> int:
    """Bytes of weights a decoding step reads: every tensor of every module but the embedding table (of
    which a step reads one row); a tied head counts once, as the head."""
    seen: dict[int, int] = {}
    for name, module in model.named_modules():
        if name == "embed" or name.startswith("embed."):
            continue
        for tensor in [*module.parameters(recurse=False), *module.buffers(recurse=False)]:
            seen[tensor.data_ptr()] = tensor.numel() * tensor.element_size()
    return sum(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--decode", type=int, default=64, help="greedy steps timed at batch 1 and 8")
    parser.add_argument("--prefill", type=int, default=512)
    parser.add_argument("--agreement", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--engine-requests", type=int, default=16, help="concurrent requests, 128 in / 128 out"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"torch {torch.__version__}"
    )
    print(
        f"threads {args.threads}; best of {args.repeats}; decode {args.decode} steps; prefill {args.prefill}"
    )

    tokenizer = glossa.load_tokenizer("smollm2")
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True
    )
    prompt = tokenizer.encode(chat, allowed_special="all")
    text_ids = tokenizer.encode(SHAKESPEARE.read_text(encoding="utf-8")[:200_000])
    prefill_ids = text_ids[: args.prefill]
    agreement_ids = text_ids[: args.agreement]
    rows: list[tuple[str, float]] = []

    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.set_verbosity_error()
    path = smollm2_gguf()
    hf = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    rows.append(
        ("transformers fp32 decode, batch 1 (tok/s)", hf_decode(hf, [prompt], args.decode, args.repeats))
    )
    rows.append(("transformers fp32 prefill (tok/s)", hf_prefill(hf, prefill_ids, args.repeats)))
    rows.append(("transformers fp32 decode, batch 8 (tok/s)", hf_decode(hf, [prompt] * 8, args.decode, 1)))
    hf_tokens = hf_greedy(hf, prompt, args.decode)
    del hf

    exact_model = glossa.load_model("smollm2")
    reference_top = reference_argmax(exact_model, agreement_ids)
    llama = llama_cpp_figures(prompt, prefill_ids, args.decode, args.threads, args.repeats, agreement_ids)
    if llama is None:
        print("llama-cpp-python is not installed: using the reference figures 139.5 / 445 tok/s, 96.6%")
        llama_label = " (reference, not measured)"
        rows.append((f"llama.cpp top-1 agreement with fp32 (%){llama_label}", 96.6))
        llama = (139.5, 445.0)
    else:
        llama_label = ""
        llama_agreement = float((llama[2] == reference_top).float().mean())
        rows.append(
            (
                f"llama.cpp top-1 agreement with fp32, {len(agreement_ids)} positions (%)",
                100 * llama_agreement,
            )
        )
    rows.append((f"llama.cpp decode, batch 1 (tok/s){llama_label}", llama[0]))
    rows.append((f"llama.cpp prefill (tok/s){llama_label}", llama[1]))

    exact = FastDecoder(exact_model, max_length=max(len(prefill_ids), len(agreement_ids), len(prompt) + 8))
    exact_decode = glossa_decode(exact, prompt, args.decode, args.repeats)
    rows.append(("glossa exact decode, batch 1 (tok/s)", exact_decode))
    rows.append(("glossa exact prefill (tok/s)", glossa_prefill(exact, prefill_ids, args.repeats)))
    same = greedy_generate(exact_model, prompt, args.decode, decoder=exact) == hf_tokens
    rows.append(
        (f"exact greedy tokens identical to transformers' ({args.decode} steps, 1 = yes)", float(same))
    )
    del exact

    fast_model = load_fast_model("smollm2")
    length = max(len(prefill_ids), len(agreement_ids), len(prompt) + args.decode + 1)
    fast = FastDecoder(fast_model, max_length=length)
    fast_decode = glossa_decode(fast, prompt, args.decode, args.repeats)
    rows.append(("glossa fast decode, batch 1 (tok/s)", fast_decode))
    fast_prefill = glossa_prefill(fast, prefill_ids, args.repeats)
    rows.append(("glossa fast prefill (tok/s)", fast_prefill))
    top1_prefill, top1_decode = agreement(fast, reference_top, agreement_ids)
    rows.append(
        (f"fast top-1 agreement with fp32, {len(agreement_ids)} positions, prefill (%)", 100 * top1_prefill)
    )
    rows.append(
        (f"fast top-1 agreement with fp32, {len(agreement_ids)} positions, decode (%)", 100 * top1_decode)
    )
    engine_prompts = [text_ids[i * 128 : (i + 1) * 128] for i in range(args.engine_requests)]
    engine_speed = engine_throughput(fast_model, engine_prompts, 128)
    rows.append(
        (f"fast engine, {args.engine_requests} requests x 128 in / 128 out (output tok/s)", engine_speed)
    )
    fast_rss = peak_rss_mib("fast", args.threads)
    rows.append(("peak RSS, fresh process, fast load + decode (MiB)", fast_rss))
    rows.append(("peak RSS, fresh process, import torch only (MiB)", peak_rss_mib("none", args.threads)))
    rows.append(
        (
            "peak RSS of this whole benchmark process (MiB)",
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    )

    fast_bytes, exact_bytes = weight_bytes(fast_model), weight_bytes(exact_model)
    rows.append(("fast: weight bytes read per token (MB)", fast_bytes / 1e6))
    rows.append(("fast: achieved read bandwidth (GB/s)", fast_bytes * fast_decode / 1e9))
    rows.append(("exact: weight bytes read per token (MB)", exact_bytes / 1e6))
    rows.append(("exact: achieved read bandwidth (GB/s)", exact_bytes * exact_decode / 1e9))
    rows.append(("fast: memory-bound ceiling at 74 GB/s (tok/s)", MEMORY_BANDWIDTH_GBS * 1e9 / fast_bytes))

    figures = dict(rows)
    hf_decode_1 = figures["transformers fp32 decode, batch 1 (tok/s)"]
    ratios = [
        ("fast decode / llama.cpp decode (goal >= 1.0)", fast_decode / llama[0]),
        ("fast prefill / llama.cpp prefill (goal >= 1.3)", fast_prefill / llama[1]),
        ("exact decode / transformers decode (goal >= 2.0)", exact_decode / hf_decode_1),
        ("fast decode / transformers decode", fast_decode / hf_decode_1),
        ("fast engine output tok/s / llama.cpp batch-1 decode (goal >= 3.0)", engine_speed / llama[0]),
        ("fast top-1 agreement, prefill path (goal >= 99 %)", 100 * top1_prefill),
        ("fast peak RSS (goal <= 400 MiB)", fast_rss),
        ("fast prefill / transformers prefill", fast_prefill / figures["transformers fp32 prefill (tok/s)"]),
    ]
    width = max(len(name) for name, _ in rows + ratios)
    print(f"\n| {'measure'.ljust(width)} | value |\n| {'-' * width} | ----- |")
    for name, value in rows + ratios:
        print(f"| {name.ljust(width)} | {value:.2f} |")


if __name__ == "__main__":
    main()

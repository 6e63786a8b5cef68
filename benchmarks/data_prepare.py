"""Benchmark `glossa data prepare`: throughput (MB/s of raw input) and peak RSS on a generated corpus.

    python benchmarks/data_prepare.py --megabytes 1000 [--work /tmp/glossa-data-bench] [--tokenizer smollm2]
                                      [--processes 0]

Generates a JSONL corpus under --work (never inside the project) of prose-like documents (~3 KB each) with
planted exact duplicates (3%), near duplicates (3%, a few words edited), PII, boilerplate footers and a few
malformed lines, then runs the whole pipeline (two passes, every stage, tokenization into shards; on every
core, or on `--processes`) in a child process and reports wall time, MB/s, and peak RSS from
`resource.getrusage` — of the pipeline process itself and of its largest worker. The corpus is generated
once and reused.
The target: peak RSS under 1 GB whatever the corpus size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

FOOTER = "Subscribe to our newsletter for the latest stories and weekly updates from the team."


def generate(path: Path, megabytes: int, seed: int = 0) -> None:
    generator = random.Random(seed)
    vocabulary = [
        "".join(generator.choices("abcdefghiklmnoprstuwy", k=generator.randint(2, 9))) for _ in range(30_000)
    ]
    stop = ["the", "of", "and", "to", "with", "that", "a", "in", "have", "be"]
    target = megabytes * 1_000_000
    written = 0
    recent: list[str] = []
    temporary = path.with_suffix(".partial")
    with open(temporary, "w", encoding="utf-8") as file:
        index = 0
        while written < target:
            roll = generator.random()
            if recent and roll < 0.03:
                text = generator.choice(recent)
            elif recent and roll < 0.06:
                words = generator.choice(recent).split(" ")
                for position in generator.sample(range(len(words)), 3):
                    words[position] = generator.choice(vocabulary)
                text = " ".join(words)
            else:
                words = [
                    generator.choice(stop) if i % 3 == 1 else generator.choice(vocabulary) for i in range(520)
                ]
                lines = [" ".join(words[i : i + 13]).capitalize() + "." for i in range(0, len(words), 13)]
                if generator.random() < 0.1:
                    lines.insert(
                        generator.randrange(len(lines)), f"Write to me at user{index}@example.com today."
                    )
                if generator.random() < 0.5:
                    lines.append(FOOTER)
                text = "\n".join(lines)
                recent = ([*recent, text])[-200:]
            if generator.random() < 0.001:
                line = '{"id": "broken", "text": "unterminated\n'
            else:
                line = json.dumps({"id": f"doc{index}", "text": text, "licence": "cc-by-4.0"}) + "\n"
            file.write(line)
            written += len(line.encode())
            index += 1
    os.replace(temporary, path)


def child(corpus: Path, out: Path, tokenizer: str, processes: int) -> None:
    from glossa.data.config import load_config
    from glossa.data.pipeline import prepare

    config = load_config(None, [f'output.tokenizer="{tokenizer}"', f"output.processes={processes}"])
    marks: dict[str, float] = {}

    def progress(phase: str, documents: int, size: int) -> None:
        marks.setdefault(phase, time.perf_counter())

    start = time.perf_counter()
    card = prepare([str(corpus)], out, config, overwrite=True, progress=progress).card
    seconds = time.perf_counter() - start
    tokenize_seconds = time.perf_counter() - marks.get("tokenizing", start)
    own_usage = resource.getrusage(resource.RUSAGE_SELF)
    worker_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    own, workers = own_usage.ru_maxrss * 1024, worker_usage.ru_maxrss * 1024
    cpu = sum(u.ru_utime + u.ru_stime for u in (own_usage, worker_usage))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "tokenize_and_card_seconds": tokenize_seconds,
                "cpu_seconds": cpu,
                "own_peak_rss": own,
                "worker_peak_rss": workers,
                "accounting": card["accounting"],
                "splits": card["splits"],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/glossa-data-bench"))
    parser.add_argument("--tokenizer", default="smollm2")
    parser.add_argument("--processes", type=int, default=0, help="worker processes (0: every core)")
    parser.add_argument("--child", nargs=2, metavar=("CORPUS", "OUT"))
    arguments = parser.parse_args()
    if arguments.child:
        child(Path(arguments.child[0]), Path(arguments.child[1]), arguments.tokenizer, arguments.processes)
        return
    arguments.work.mkdir(parents=True, exist_ok=True)
    corpus = arguments.work / f"corpus_{arguments.megabytes}MB.jsonl"
    if not corpus.exists():
        started = time.perf_counter()
        generate(corpus, arguments.megabytes)
        print(f"generated {corpus} in {time.perf_counter() - started:.0f} s")
    size = corpus.stat().st_size
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--tokenizer",
            arguments.tokenizer,
            "--processes",
            str(arguments.processes),
            "--child",
            str(corpus),
            str(arguments.work / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        sys.exit(completed.stderr)
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    machine = platform.processor() or platform.machine()
    print(
        f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f", load {os.getloadavg()}"
    )
    print(f"corpus: {size / 1e6:,.1f} MB, {result['accounting']}")
    print(
        "splits: "
        + ", ".join(
            f"{k} {v['documents']:,} docs / {v['tokens']:,} tokens" for k, v in result["splits"].items()
        )
    )
    print(f"glossa data prepare: {result['seconds']:.1f} s, {size / 1e6 / result['seconds']:.2f} MB/s")
    print(f"  CPU time (pipeline + workers): {result['cpu_seconds']:.1f} s")
    stages = result["seconds"] - result["tokenize_and_card_seconds"]
    print(
        f"  of which reading + stages (both passes): {stages:.1f} s ({size / 1e6 / stages:.2f} MB/s); "
        f"tokenizing into shards + card: {result['tokenize_and_card_seconds']:.1f} s"
    )
    print(
        f"peak RSS: pipeline {result['own_peak_rss'] / 2**20:,.0f} MiB, "
        f"largest worker {result['worker_peak_rss'] / 2**20:,.0f} MiB (limit 1024 MiB)"
    )


if __name__ == "__main__":
    main()

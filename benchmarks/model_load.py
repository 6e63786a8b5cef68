"""Load-to-first-token: glossa's `load_model("smollm2")` against transformers loading the same GGUF.

Each measurement runs in a fresh subprocess (so nothing is cached in-process and peak RSS is that model's
alone): import the libraries, then time from the load call to the logits of the first token for the prompt
"The meaning of life is" (the same five token ids for both, so tokenizers are not part of the race), and
read the process's peak resident set size. Imports are timed separately. Runs alternate between the two
loaders; the table shows the median and the best of `--runs` runs, and the ratio of the medians.

    .venv/bin/python benchmarks/model_load.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

PROMPT_IDS = [504, 2455, 282, 1029, 314]  # "The meaning of life is" in SmolLM2's vocabulary


def worker(which: str) -> dict[str, float]:
    import resource

    started = time.perf_counter()
    import torch

    if which == "glossa":
        from glossa.models.loading import load_model

        imported = time.perf_counter()
        model = load_model("smollm2")
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging

        from glossa.artifacts import smollm2_gguf

        logging.set_verbosity_error()
        logging.disable_progress_bar()
        path = smollm2_gguf()
        imported = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        model.eval()
    loaded = time.perf_counter()
    with torch.no_grad():
        logits = model(torch.tensor([PROMPT_IDS])).logits
    first_token = int(logits[0, -1].argmax())
    done = time.perf_counter()
    return {
        "import_s": imported - started,
        "load_s": loaded - imported,
        "load_to_first_token_s": done - imported,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "first_token": first_token,
    }


def measure(which: str) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", which], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", choices=["glossa", "transformers"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return

    import torch

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )
    results: dict[str, list[dict[str, float]]] = {"glossa": [], "transformers": []}
    for run in range(args.runs):
        for which in results:
            results[which].append(measure(which))
            print(
                f"  run {run + 1} {which:>12}: {results[which][-1]['load_to_first_token_s']:.2f} s",
                flush=True,
            )
    tokens = {which: {r["first_token"] for r in runs} for which, runs in results.items()}
    assert tokens["glossa"] == tokens["transformers"], tokens
    print(
        f"\n{'':14}{'load→first token (median / best)':>34}{'load only':>12}{'imports':>10}{'peak RSS':>12}"
    )
    medians = {}
    for which, runs in results.items():
        first = [r["load_to_first_token_s"] for r in runs]
        medians[which] = statistics.median(first)
        print(
            f"{which:14}{medians[which]:>24.2f} s / {min(first):.2f} s"
            f"{statistics.median(r['load_s'] for r in runs):>10.2f} s"
            f"{statistics.median(r['import_s'] for r in runs):>8.2f} s"
            f"{statistics.median(r['peak_rss_mib'] for r in runs):>8.0f} MiB"
        )
    ratio = medians["transformers"] / medians["glossa"]
    print(f"\ntransformers / glossa (load→first token, medians): {ratio:.1f}×")


if __name__ == "__main__":
    main()

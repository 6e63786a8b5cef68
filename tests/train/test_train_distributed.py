"""Data parallelism: `torchrun --nproc_per_node=2` (gloo, one thread per process) gives the same loss as one
process with the same global batch, to 1e-5 after 20 steps — with DDP (replicas) and with FSDP (sharded)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TINY_SHAKESPEARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare.txt"
RUNNER = """
import sys
from glossa.train.config import load_config
from glossa.train.trainer import train
train(load_config(None, sys.argv[1:]))
"""
SETTINGS = [
    "--model={preset='llama-tiny', d_model=32, d_ff=64, n_heads=2, n_kv_heads=1}",
    f"--data.text_file={TINY_SHAKESPEARE}",
    "--batch_size=8",  # the global batch: 4 per process under torchrun
    "--seq_len=32",
    "--grad_accum=2",
    "--max_steps=20",
    "--eval_batches=2",
    "--optim.lr=3e-3",
    "--threads=1",
    "--display=false",
]


def test_two_processes_match_one(tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.Popen(
        [sys.executable, str(script), *SETTINGS, f"--out_dir={tmp_path / 'one'}"],
        env=env,
        stderr=subprocess.PIPE,
    )
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    sharded = subprocess.Popen(
        [
            *torchrun,
            "--master_port=29533",
            str(script),
            *SETTINGS,
            "--parallel=fsdp",
            f"--out_dir={tmp_path / 'fsdp'}",
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    double = subprocess.run(
        [*torchrun, str(script), *SETTINGS, f"--out_dir={tmp_path / 'two'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert double.returncode == 0, double.stderr[-3000:]
    assert single.wait(timeout=180) == 0, single.stderr.read().decode()[-3000:]
    assert sharded.wait(timeout=180) == 0, sharded.stderr.read().decode()[-3000:]
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert one["steps"] == two["steps"] == 20
    assert abs(one["train_loss"] - two["train_loss"]) < 1e-5
    assert abs(one["val"]["loss"] - two["val"]["loss"]) < 1e-5
    assert json.loads((tmp_path / "two" / "run.json").read_text())["world_size"] == 2
    fsdp = json.loads((tmp_path / "fsdp" / "summary.json").read_text())
    assert abs(one["train_loss"] - fsdp["train_loss"]) < 1e-5
    assert (tmp_path / "fsdp" / "model" / "model.safetensors").exists()  # full weights gathered on rank 0

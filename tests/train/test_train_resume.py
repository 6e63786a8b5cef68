"""Resume: a trainer killed with SIGKILL — at a random moment, and in the middle of writing a checkpoint —
and started again ends bit-identical to a run that was never interrupted (deterministic mode, one thread),
and no checkpoint folder is ever incomplete."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TINY_SHAKESPEARE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare.txt"
RUNNER = "import sys; from glossa.train.config import load_config; from glossa.train.trainer import train; " \
    "train(load_config(None, sys.argv[1:]))"  # fmt: skip
SETTINGS = [
    "--model={preset='llama-tiny', d_model=32, d_ff=64, n_heads=2, n_kv_heads=1}",
    f"--data.text_file={TINY_SHAKESPEARE}",
    "--batch_size=4",
    "--seq_len=32",
    "--max_steps=40",
    "--checkpoint_every=5",
    "--keep_last=2",
    "--eval_every=20",
    "--eval_batches=2",
    "--log_every=5",
    "--deterministic=true",
    "--optim.lr=3e-3",
    "--schedule.warmup_steps=5",
    "--display=false",
]


def _start(out_dir: Path, sleep: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOSSA_CHECKPOINT_SLEEP": str(sleep)}
    command = [sys.executable, "-c", RUNNER, *SETTINGS, f"--out_dir={out_dir}"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(predicate, process: subprocess.Popen, timeout: float = 150.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the trainer did not get there in time"
        time.sleep(0.02)


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def _assert_checkpoints_complete(root: Path) -> None:
    for folder in root.glob("step_*"):
        assert {"model.safetensors", "glossa.json", "optimizer.pt", "state.json"} <= {
            p.name for p in folder.iterdir()
        }
        json.loads((folder / "state.json").read_text())
        load_file(str(folder / "model.safetensors"))
        torch.load(folder / "optimizer.pt", weights_only=True)


def test_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
    reference = _start(tmp_path / "reference")
    interrupted = tmp_path / "interrupted"
    root = interrupted / "checkpoints"

    # 1. kill it while it is writing the checkpoint of step 10 (after step 5's is complete)
    process = _start(interrupted, sleep=1.5)
    _wait_for(lambda: any((p / "optimizer.pt").exists() for p in root.glob(".tmp-step_000010-*")), process)
    _kill(process)
    assert [p.name for p in root.glob("step_*")] == ["step_000005"]
    _assert_checkpoints_complete(root)

    # 2. resume, then kill at a random moment after the next checkpoint
    process = _start(interrupted)
    _wait_for(lambda: (root / "step_000015").exists(), process)
    time.sleep(random.Random().uniform(0.0, 0.4))
    _kill(process)
    _assert_checkpoints_complete(root)

    # 3. resume to the end
    process = _start(interrupted)
    assert process.wait(timeout=180) == 0, process.stderr.read().decode()
    assert reference.wait(timeout=180) == 0, reference.stderr.read().decode()
    _assert_checkpoints_complete(root)
    assert len(list(root.glob("step_*"))) <= 3  # the last two, and the best

    mine = json.loads((interrupted / "summary.json").read_text())
    theirs = json.loads((tmp_path / "reference" / "summary.json").read_text())
    assert mine["train_loss"] == theirs["train_loss"]
    assert mine["val"]["loss"] == theirs["val"]["loss"]
    a = load_file(str(interrupted / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "reference" / "model" / "model.safetensors"))
    assert all(torch.equal(a[name], b[name]) for name in b)
    steps = [json.loads(line)["step"] for line in (interrupted / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # the killed run's lines after its checkpoint were dropped


def test_a_deletion_cut_short_leaves_no_half_empty_checkpoint(tmp_path, monkeypatch):
    from glossa.train import checkpoint

    root = tmp_path / "checkpoints"
    for step in (5, 10, 15):
        folder = root / checkpoint.PATTERN.format(step)
        folder.mkdir(parents=True)
        for name in ("glossa.json", "model.safetensors", "optimizer.pt", "state.json"):
            (folder / name).write_text("x")

    def killed_after_one_file(path, ignore_errors=False):
        next(Path(path).iterdir()).unlink()
        raise KeyboardInterrupt  # stands in for a SIGKILL in the middle of the deletion

    monkeypatch.setattr(checkpoint.shutil, "rmtree", killed_after_one_file)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.prune(root, keep_last=1, best_step=None)
    survivors = sorted(p.name for p in root.glob("step_*"))
    assert survivors == ["step_000010", "step_000015"]  # step 5 was being deleted: gone under its own name
    for folder in root.glob("step_*"):
        assert len(list(folder.iterdir())) == 4

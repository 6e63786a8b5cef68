"""Checkpoints (seed §13 Checkpointing): one folder per checkpoint, written atomically, so a run killed at any
moment — even in the middle of writing one — resumes from the last complete one.

    <out_dir>/checkpoints/step_000100/
        model.safetensors, glossa.json     the weights and ModelConfig (`glossa.load_model` reads the folder)
        optimizer.pt                       optimizer state + torch RNG state (tensors only; loaded with
                                           torch.load(weights_only=True), glossa's one use of torch.load)
        state.json                         step, data-loader position, numpy/python RNG, best metric, LRs
        best_model.safetensors             (only when the best step is an earlier one) its weights, so that
                                           a resumed run can end with them even if that step's own
                                           checkpoint was never written or was pruned

The folder is written as `.tmp-step_000100-<pid>` and renamed to its final name only when every file is
fsynced: a folder named `step_*` is complete by construction, and half-written `.tmp-*` folders are ignored
(and cleared by the next save). After each save the oldest are removed, keeping the last `keep_last` and the
best (lowest validation loss); a folder is removed by renaming it to `.tmp-*` first and deleting it after, so
a kill in the middle of a deletion never leaves a half-emptied `step_*` behind either.
`GLOSSA_CHECKPOINT_SLEEP=seconds` pauses mid-write, so a test can kill the process exactly there.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glossa.errors import GlossaError

PATTERN = "step_{:06d}"
BEST_WEIGHTS = "best_model.safetensors"


def checkpoint_root(out_dir: str | Path) -> Path:
    root = Path(out_dir) / "checkpoints"
    for folder in (Path(out_dir), root):
        if folder.exists() and not folder.is_dir():
            raise GlossaError(f"{folder} is a file, not a folder: choose another out_dir for the run")
    return root


def rng_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    return {"python": [version, list(internal), gauss], "numpy": numpy_state}


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = dict(numpy_state["state"], key=np.array(numpy_state["state"]["key"], np.uint32))
    np.random.set_state(numpy_state)


def save_checkpoint(
    root: Path,
    step: int,
    model,
    optimizer,
    state: dict[str, Any],
    *,
    keep_last: int,
    best_step: int | None,
    best_weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    from safetensors.torch import save_file

    from glossa.models.loading import save_model

    final = root / PATTERN.format(step)
    root.mkdir(parents=True, exist_ok=True)
    temporary = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    save_model(model, temporary)
    extra = {"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()}
    torch.save(extra, temporary / "optimizer.pt")
    if best_weights:
        save_file(best_weights, str(temporary / BEST_WEIGHTS))
    pause = float(os.environ.get("GLOSSA_CHECKPOINT_SLEEP", "0") or 0)
    if pause:
        time.sleep(pause)  # a test kills the process here: the folder is half-written
    full_state = {**state, "step": step, "rng": rng_state()}
    (temporary / "state.json").write_text(json.dumps(full_state), encoding="utf-8")
    for file in temporary.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    if final.exists():
        _remove(final)
    os.rename(temporary, final)
    _fsync_dir(root)
    prune(root, keep_last, best_step)
    return final


def complete_checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and (p / "state.json").exists()
    ]
    return sorted(found, key=lambda p: p.name)


def prune(root: Path, keep_last: int, best_step: int | None) -> None:
    for stale in root.glob(".tmp-*"):
        if not stale.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(stale, ignore_errors=True)
    keep_last = max(keep_last, 1)
    checkpoints = complete_checkpoints(root)
    best = PATTERN.format(best_step) if best_step is not None else None
    for old in checkpoints[:-keep_last]:
        if old.name != best:
            _remove(old)


def _remove(folder: Path) -> None:
    """Delete a checkpoint folder so that no moment shows it half-deleted under its own name."""
    doomed = folder.with_name(f".tmp-removing-{folder.name}-{os.getpid()}")
    os.rename(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def load_weights(model, weights: dict[str, torch.Tensor], where: str) -> None:
    """Put saved weights into `model` (a tied head is saved once, as the embedding, and re-tied here)."""
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or [m for m in missing if m != "head.weight"]:
        raise GlossaError(f"{where} does not fit this model: change the model or the out_dir")
    model.tie_weights()


def load_checkpoint(folder: Path, model, optimizer) -> dict[str, Any]:
    """Put the weights, optimizer and RNG states back; return state.json (step, data position, ...)."""
    from safetensors.torch import load_file

    load_weights(model, load_file(str(folder / "model.safetensors")), f"checkpoint {folder}")
    extra = torch.load(folder / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(extra["optimizer"])
    torch.set_rng_state(extra["torch_rng"])
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    set_rng_state(state["rng"])
    return state


def _fsync_dir(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)

"""`Trainer`: one loop for pretraining, reused by fine-tuning (seed §11–13).

Each optimizer step (seed §11 Gradient Descent, §12 Batch Size, Gradient Accumulation):

    lr = base_lr · schedule(step)                       warmup, then cosine/linear/wsd decay
    for each of grad_accum micro-batches:               a bigger batch than memory holds, in pieces
        loss = cross_entropy(model(x), y) [+ MoE aux]   under bf16 autocast (or fp16 + loss scaling on GPU)
        (loss / grad_accum).backward()                  DDP all-reduces on the last micro-batch only
    norm = clip_grad_norm_(params, grad_clip)           the global norm is logged before clipping
    optimizer.step(); zero_grad()

Every `eval_every` steps the model is scored on `eval_batches` validation batches (the same ones each time);
with `patience`, training stops after that many evaluations without a new best (early stopping: the
validation loss rising while the training loss falls is overfitting). Every `checkpoint_every` steps a
checkpoint is written (`glossa.train.checkpoint`); a run started again with the same out_dir resumes from the
newest one.

With `keep_best` (the default) the run hands over the weights of the step with the lowest validation loss,
not the last step's, as HF Trainer's `load_best_model_at_end` and nanoGPT's save-on-best do: each new best is
copied to CPU memory and put back into the model at the end. Every checkpoint written after the best step
carries that copy (best_model.safetensors), which a resumed run reads back; failing that, it reads the best
step's own checkpoint folder, which pruning keeps. Those weights are what model/ holds, what the
test split is scored on (once, at the end), and what the summary's "val" scores belong to: validation is
scored again on them when they are not the last step's, so "val" and "test" describe the same model.
summary.json says which in `weights_step` and `weights`: "best"; "final" (keep_best off, or nothing to
choose by); or "final_fallback" (a resumed run that found the best weights in neither place, as with
checkpoints written by an older glossa).

The run writes into out_dir: run.json (config, git revision, machine), log.jsonl (one line per logged step or
evaluation), checkpoints/, model/ (the weights above), loss.png and lr.png, summary.json. While it runs a Rich
line shows step, loss, learning rate, gradient norm, tokens/s, MFU (model FLOPs per token from
`glossa.models.describe` × tokens/s ÷ the device's peak) and ETA.

Deterministic mode (`deterministic=true`) pins torch to deterministic kernels and one thread, so a run that
was killed and resumed ends with bit-identical weights to one that was not.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from glossa.atomic import atomic_write_text
from glossa.errors import GlossaError
from glossa.train import checkpoint as ckpt
from glossa.train import distributed
from glossa.train.config import TrainConfig
from glossa.train.data import BatchLoader, load_shards
from glossa.train.evaluate import evaluate, token_byte_lengths
from glossa.train.optim import build_optimizer
from glossa.train.schedules import Schedule, set_lr

CPU_PEAK_FLOPS = {"fp32": 175e9, "bf16": 830e9, "fp16": 175e9}  # measured on the project's CPUs (DESIGN.md)
GPU_PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def init_weights(model: nn.Module, scheme: str, std: float) -> None:
    """Initialisation schemes (seed §6 Normal/Uniform, Variance): the Linear weights are drawn from
    normal: N(0, std²)                           GPT-2's fixed small standard deviation
    xavier: N(0, 2 / (fan_in + fan_out))         keeps activation and gradient variance ≈ constant
    kaiming: N(0, 2 / fan_in)                    the same for ReLU-like layers (half the units are zero)
    Embeddings stay N(0, std²); biases zero."""
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.weight.device.type != "meta":
            if scheme == "xavier":
                nn.init.xavier_normal_(module.weight)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            else:
                nn.init.normal_(module.weight, std=std)


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """Recompute each block's activations during backward instead of storing them (seed §11 Gradient
    Checkpointing): memory per block drops to its input, at the price of one more forward pass."""
    from torch.utils.checkpoint import checkpoint

    for block in list(getattr(model, "layers", [])) + list(getattr(model, "encoder_layers", []) or []):
        forward = block.forward

        def checkpointed(x, _forward=forward, **kwargs):
            return checkpoint(_forward, x, use_reentrant=False, **kwargs)

        block.forward = checkpointed


def language_model_loss(output, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next tokens (seed §11 Language Modeling Loss), plus MoE auxiliary losses."""
    loss = F.cross_entropy(output.logits.float().flatten(0, 1), targets.flatten())
    if output.aux_loss is not None:
        loss = loss + output.aux_loss
    return loss


def git_revision() -> str:
    try:
        root = Path(__file__).resolve().parents[3]
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return done.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


class Trainer:
    def __init__(self, config: TrainConfig, on_step: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.on_step = on_step  # replaces the live display (the speedrun shows its own progress)
        if config.threads:
            torch.set_num_threads(config.threads)
        if config.deterministic:
            torch.use_deterministic_algorithms(True)
            torch.set_num_threads(1)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        self.device = (
            config.device if config.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        )
        if config.precision == "fp16" and not self.device.startswith("cuda"):
            raise GlossaError("fp16 with loss scaling is for GPUs: use precision=bf16 on CPU")
        self.dist = distributed.setup(self.device)
        if self.dist.enabled and self.device.startswith("cuda"):
            self.device = f"cuda:{self.dist.local_rank}"
        distributed.check(config.parallel, config.optim.name, self.dist)
        self.out_dir = Path(config.out_dir)
        self.root = ckpt.checkpoint_root(self.out_dir)
        self._seed(config.seed)
        self.splits, vocab, self.byte_lengths = self._load_data()
        self.model_config = self._model_config(vocab)
        from glossa.models.describe import describe
        from glossa.models.transformer import Transformer

        self.flops_per_token = describe(self.model_config, context=config.seq_len).flops_train
        self.model = Transformer(self.model_config)
        init_weights(self.model, config.init, self.model_config.init_std)
        self.model.to(self.device)
        if config.grad_checkpointing:
            enable_gradient_checkpointing(self.model)
        self.wrapped = distributed.wrap(self.model, self.dist, config.parallel, self.device)
        self.sharded = self.dist.enabled and config.parallel == "fsdp"
        self.optimizer = build_optimizer(self.wrapped, config.optim)
        self.schedule = Schedule.from_config(config.schedule, config.max_steps)
        self.scaler = torch.amp.GradScaler("cuda", enabled=config.precision == "fp16")
        self.loader = BatchLoader(
            self.splits["train"],
            config.batch_size,
            config.seq_len,
            config.seed,
            rank=self.dist.rank,
            world=self.dist.world,
        )
        self.step = 0
        self.best_loss, self.best_step, self.bad_evals = math.inf, None, 0
        self.best_weights: dict[str, torch.Tensor] | None = None  # keep_best: best_step's, on CPU
        self.last_val: dict[str, float] | None = None

    # -- setup ----------------------------------------------------------------------------------------------

    def _seed(self, seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    def _load_data(self) -> tuple[dict[str, list[np.ndarray]], int | None, torch.Tensor | None]:
        config, data = self.config, self.config.data
        tokenizer = None
        if data.tokenizer != "bytes":
            from glossa.tokenizers.loading import load_tokenizer

            tokenizer = load_tokenizer(data.tokenizer)
        vocab = 256 if tokenizer is None else tokenizer.vocab_size
        byte_lengths = torch.ones(256, dtype=torch.int64) if tokenizer is None else None
        if config.tokens is not None:
            tokens = config.tokens
            if isinstance(tokens, dict):
                splits = {k: [np.asarray(v)] for k, v in tokens.items()}
            else:
                splits = _split(np.asarray(tokens), data.val_fraction)
            largest = max(int(a.max()) for arrays in splits.values() for a in arrays if len(a))
            vocab = largest + 1 if tokenizer is None else tokenizer.vocab_size
        elif data.text_file:
            path = Path(data.text_file)
            if not path.is_file():
                raise GlossaError(f"no text file {path}: set data.text_file to a UTF-8 text file")
            text = path.read_text(encoding="utf-8")
            ids = list(text.encode("utf-8")) if tokenizer is None else tokenizer.encode(text)
            splits = _split(np.asarray(ids, dtype=np.int64), data.val_fraction)
        elif data.train:
            splits = {
                "train": load_shards(data.train),
                "val": load_shards(data.val),
                "test": load_shards(data.test),
            }
            from glossa.tokenizers.batch import read_token_shard

            vocab = read_token_shard(data.train[0])[0].vocab_size
        else:
            raise GlossaError("no training data: set data.train (token shards) or data.text_file")
        if tokenizer is not None:
            byte_lengths = token_byte_lengths(tokenizer)
        splits.setdefault("val", [])
        splits.setdefault("test", [])
        return splits, vocab, byte_lengths

    def _model_config(self, vocab: int | None):
        from glossa.models.config import ModelConfig
        from glossa.models.presets import PRESETS, preset

        spec = self.config.model
        if isinstance(spec, str):
            spec = {"preset": spec}
        if not isinstance(spec, dict):
            raise GlossaError(f"model must be a preset name or a table of ModelConfig fields, not {spec!r}")
        spec = dict(spec)
        name = spec.pop("preset", None)
        base = dict(PRESETS[name]) if name in PRESETS else {}
        if name is not None and name not in PRESETS:
            preset(name)  # raises the one-line error listing the presets
        if vocab and "vocab_size" not in spec:
            spec["vocab_size"] = vocab
        if "context_length" not in spec:
            spec["context_length"] = max(base.get("context_length", 0), self.config.seq_len)
        merged = {**base, **spec}
        if name:
            merged["name"] = name
        return ModelConfig.from_dict(merged)

    def _autocast(self):
        if self.config.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.precision == "bf16" else torch.float16
        return torch.autocast(self.device.split(":")[0], dtype=dtype)

    # -- the loop -------------------------------------------------------------------------------------------

    def train(self) -> dict[str, Any]:
        config = self.config
        if self.dist.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._write_run_record()
        self._maybe_resume()
        log_path = self.out_dir / "log.jsonl"
        started, tokens_done = time.perf_counter(), 0
        last_train = _logged_train_loss(log_path, self.step)  # a run resumed at its last step trains no more
        steps_at_start = self.step
        tokens_per_step = config.batch_size * config.seq_len * config.grad_accum
        stopped_early = False
        with self._display() as show:
            while self.step < config.max_steps:
                lr = set_lr(self.optimizer, self.schedule(self.step))
                loss, norm = self._train_step()
                self.step += 1
                tokens_done += tokens_per_step
                last_train = distributed.mean(loss, self.dist)
                elapsed = time.perf_counter() - started
                record = {
                    "step": self.step,
                    "loss": last_train,
                    "lr": lr,
                    "grad_norm": norm,
                    "tokens_per_s": tokens_done / elapsed,
                    "time": elapsed,
                }
                record["mfu"] = self.flops_per_token * record["tokens_per_s"] / self._peak_flops()
                record["eta_s"] = elapsed / (self.step - steps_at_start) * (config.max_steps - self.step)
                if self.step % config.log_every == 0 or self.step == config.max_steps:
                    self._log(log_path, record)
                show(record)
                final = self.step == config.max_steps
                due = bool(config.eval_every and self.step % config.eval_every == 0) or final
                if self.splits["val"] and due and self._evaluate(log_path):
                    stopped_early = final = True
                if (config.checkpoint_every and self.step % config.checkpoint_every == 0) or final:
                    self._checkpoint()
                if stopped_early:
                    break
        return self._finish(last_train, stopped_early)

    def _train_step(self) -> tuple[float, float]:
        config, model = self.config, self.wrapped
        model.train()
        total = 0.0
        for micro in range(config.grad_accum):
            x, y = self.loader.next_batch()
            x, y = x.to(self.device), y.to(self.device)
            sync = micro == config.grad_accum - 1 or not self.dist.enabled or self.sharded
            with contextlib.nullcontext() if sync else model.no_sync(), self._autocast():
                loss = language_model_loss(model(x), y)
            self.scaler.scale(loss / config.grad_accum).backward()
            total += loss.item() / config.grad_accum
        self.scaler.unscale_(self.optimizer)
        limit = config.grad_clip if config.grad_clip > 0 else math.inf
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), limit)
        if hasattr(norm, "full_tensor"):  # FSDP: a DTensor, the norm over all shards
            norm = norm.full_tensor()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return total, float(norm)

    def _validation_scores(self) -> dict[str, float]:
        from glossa.train.data import sequential_batches

        config = self.config
        val = np.concatenate(self.splits["val"]) if len(self.splits["val"]) > 1 else self.splits["val"][0]
        batches = sequential_batches(val, config.seq_len, config.batch_size, limit=config.eval_batches)
        return evaluate(
            self.wrapped, batches, byte_lengths=self.byte_lengths, autocast=self._autocast, device=self.device
        )

    def _evaluate(self, log_path: Path) -> bool:
        """Score the validation batches; True when early stopping says to stop."""
        config = self.config
        result = self._validation_scores()
        self._log(log_path, {"step": self.step, **{f"val_{k}": v for k, v in result.items()}})
        if result["loss"] < self.best_loss:
            self.best_loss, self.best_step, self.bad_evals = result["loss"], self.step, 0
            if config.keep_best:  # the last step's weights need no copy: the model ends with them
                self.best_weights = self._snapshot() if self.step < config.max_steps else None
        else:
            self.bad_evals += 1
        self.last_val = result
        return bool(config.patience and self.bad_evals >= config.patience)

    def _saveable_model(self) -> nn.Module:
        """The model to write: itself, or under FSDP a plain copy holding the gathered full weights."""
        if not self.sharded:
            return self.model
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        from glossa.models.transformer import Transformer

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        state = get_model_state_dict(self.wrapped, options=options)
        return Transformer.from_state_dict(self.model_config, state) if self.dist.main else self.model

    def _snapshot(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the weights; under FSDP the gathered full weights on rank 0 and {} elsewhere (a
        collective: every rank calls it, as every rank evaluates)."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            options = StateDictOptions(full_state_dict=True, cpu_offload=True)
            state = get_model_state_dict(self.wrapped, options=options)
        else:
            state = self.model.state_dict()
        return {name: tensor.detach().to("cpu", copy=True) for name, tensor in state.items()}

    def _load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Put `state` (a snapshot or a checkpoint's model.safetensors) into the model on every rank."""
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

            options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
            set_model_state_dict(self.wrapped, state, options=options)
            return
        ckpt.load_weights(self.model, state, "the best step's snapshot")

    def _restore_best(self) -> tuple[int, str]:
        """keep_best: put best_step's weights back. Returns the step whose weights the run ends with, and
        which they are ("best", "final", "final_fallback")."""
        if not self.config.keep_best or self.best_step is None:
            return self.step, "final"
        if self.best_step == self.step:
            return self.step, "best"
        state = self.best_weights
        if state is None:  # resumed from the best step's own checkpoint (or an older glossa's)
            from safetensors.torch import load_file

            weights = self.root / ckpt.PATTERN.format(self.best_step) / "model.safetensors"
            if not weights.is_file():
                return self.step, "final_fallback"
            state = load_file(str(weights))
        self._load_weights(state)
        return self.best_step, "best"

    def _checkpoint(self) -> None:
        model = self._saveable_model()
        if self.dist.main:
            state = {
                "data": self.loader.state(),
                "best_loss": self.best_loss if math.isfinite(self.best_loss) else None,
                "best_step": self.best_step,
                "bad_evals": self.bad_evals,
            }
            ckpt.save_checkpoint(
                self.root,
                self.step,
                model,
                self.optimizer,
                state,
                keep_last=self.config.keep_last,
                best_step=self.best_step,
                best_weights=self.best_weights if self.best_step != self.step else None,
            )
        if self.dist.enabled:
            torch.distributed.barrier()

    def _maybe_resume(self) -> None:
        found = ckpt.complete_checkpoints(self.root) if self.config.resume else []
        if not found:
            return
        if self.sharded:
            raise GlossaError(
                f"{self.root} holds checkpoints, but resuming under FSDP is not supported yet: "
                "resume with parallel=ddp, or choose a new out_dir"
            )
        state = ckpt.load_checkpoint(found[-1], self.model, self.optimizer)
        self.step = state["step"]
        self.loader.load_state(state["data"])
        self.best_loss = state["best_loss"] if state["best_loss"] is not None else math.inf
        self.best_step, self.bad_evals = state["best_step"], state["bad_evals"]
        best_weights = found[-1] / ckpt.BEST_WEIGHTS
        if self.config.keep_best and best_weights.is_file():
            from safetensors.torch import load_file

            self.best_weights = load_file(str(best_weights))
        log_path = self.out_dir / "log.jsonl"
        if self.dist.main and log_path.exists():  # forget what the killed run logged after this checkpoint
            lines = [line for line in log_path.read_text().splitlines() if line.strip()]
            kept = [line for line in lines if _parse(line).get("step", 0) <= self.step]
            atomic_write_text(log_path, "".join(line + "\n" for line in kept))

    def _finish(self, last_train: float, stopped_early: bool) -> dict[str, Any]:
        from glossa.models.loading import save_model
        from glossa.train.data import sequential_batches

        config = self.config
        weights_step, weights = self._restore_best()
        summary: dict[str, Any] = {
            "steps": self.step,
            "train_loss": last_train,
            "stopped_early": stopped_early,
            "best_val_loss": self.best_loss,
            "best_step": self.best_step,
            "weights_step": weights_step,
            "weights": weights,
        }
        if self.splits["val"]:
            if self.last_val is None or weights_step != self.step:  # resumed at the end, or the best restored
                self.last_val = self._validation_scores()
            summary["val"] = self.last_val
        if self.splits["test"]:
            test = np.concatenate(self.splits["test"])
            batches = sequential_batches(test, config.seq_len, config.batch_size)
            summary["test"] = evaluate(
                self.wrapped,
                batches,
                byte_lengths=self.byte_lengths,
                autocast=self._autocast,
                device=self.device,
            )
        model = self._saveable_model()
        if self.dist.main:
            save_model(model, self.out_dir / "model")
            atomic_write_text(
                self.out_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n"
            )
            self._plots()
        distributed.teardown(self.dist)
        return summary

    # -- records --------------------------------------------------------------------------------------------

    def _peak_flops(self) -> float:
        if self.config.peak_tflops:
            return self.config.peak_tflops * 1e12
        if self.device.startswith("cuda"):
            name = torch.cuda.get_device_name()
            return next((v for k, v in GPU_PEAK_FLOPS.items() if k in name), 100e12)
        return CPU_PEAK_FLOPS[self.config.precision] * torch.get_num_threads() / 2

    def _write_run_record(self) -> None:
        record = {
            "config": self.config.to_dict(),
            "model": self.model_config.to_dict(),
            "git": git_revision(),
            "machine": machine(),
            "world_size": self.dist.world,
        }
        atomic_write_text(self.out_dir / "run.json", json.dumps(record, indent=2, default=str) + "\n")

    def _log(self, path: Path, record: dict[str, Any]) -> None:
        if self.dist.main:
            with open(path, "a", encoding="utf-8") as file:
                file.write(json.dumps(record) + "\n")

    def _plots(self) -> None:
        from glossa.plots import new_figure, save_figure

        path = self.out_dir / "log.jsonl"
        records = [_parse(line) for line in path.read_text().splitlines()] if path.exists() else []
        train = [r for r in records if "loss" in r]
        val = [r for r in records if "val_loss" in r]
        figure, axes = new_figure()
        axes.plot([r["step"] for r in train], [r["loss"] for r in train], label="train")
        if val:
            axes.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", label="validation")
        axes.set(xlabel="step", ylabel="loss (nats/token)", title="loss")
        axes.legend()
        save_figure(figure, self.out_dir / "loss.png")
        figure, axes = new_figure()
        axes.plot([r["step"] for r in train], [r["lr"] for r in train])
        axes.set(xlabel="step", ylabel="learning rate", title="learning-rate schedule")
        save_figure(figure, self.out_dir / "lr.png")

    @contextlib.contextmanager
    def _display(self):
        from glossa.cli.console import console

        if self.on_step is not None or not (self.config.display and self.dist.main):
            yield self.on_step if self.on_step is not None and self.dist.main else (lambda record: None)
            return
        if not console.is_terminal:
            every = self.config.log_every

            def line(record: dict) -> None:
                if record["step"] % every == 0 or record["step"] == self.config.max_steps:
                    console.print(_status(record), highlight=False)

            yield line
            return
        from rich.live import Live

        with Live(console=console, refresh_per_second=4, transient=False) as live:
            yield lambda record: live.update(_status(record))


def _status(record: dict) -> str:
    return (
        f"step {record['step']:>6}  loss {record['loss']:.4f}  lr {record['lr']:.2e}  "
        f"grad norm {record['grad_norm']:.3f}  {record['tokens_per_s']:,.0f} tok/s  "
        f"MFU {100 * record['mfu']:.1f}%  ETA {record['eta_s']:.0f}s"
    )


def _parse(line: str) -> dict:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return {}


def _split(tokens: np.ndarray, val_fraction: float) -> dict[str, list[np.ndarray]]:
    """The first 1 - val_fraction for training, the rest for validation (nanoGPT's prepare.py split)."""
    cut = int(len(tokens) * (1 - val_fraction))
    return {"train": [tokens[:cut]], "val": [tokens[cut:]]}


def train(config: TrainConfig) -> dict[str, Any]:
    return Trainer(config).train()


def _logged_train_loss(log_path: Path, step: int) -> float:
    """The training loss logged at `step`, or NaN when that step was not logged (or nothing was)."""
    if step == 0 or not log_path.exists():
        return math.nan
    for line in reversed(log_path.read_text(encoding="utf-8").splitlines()):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("step") == step and "loss" in record:
            return float(record["loss"])
    return math.nan

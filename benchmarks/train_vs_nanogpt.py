"""glossa's trainer against nanoGPT's shakespeare_char CPU configuration (not a test; run it and read it).

    .venv/bin/python benchmarks/train_vs_nanogpt.py [--repeats 3] [--fast adamw:800 muon:800]

The peer is our own faithful replica of nanoGPT's GPT-2 model and training loop, written here from its README
configuration (nanoGPT's code is not copied): LayerNorm, GELU MLP, learned positions, biases, tied head,
N(0, 0.02²) init with the residual projections scaled by 1/√(2·n_layer), AdamW (decay on ≥2-D parameters)
lr 1e-3, β2 0.99, 100 warmup steps, cosine decay to 1e-4 over 2000 iterations, clipping at 1.0, batch 12,
block 64, 4 layers, 4 heads, width 128, no dropout, character-level on tiny Shakespeare (90/10 split, as
nanoGPT's prepare.py). nanoGPT's README reports val loss ≈ 1.88 for this run.

Rows, all on the same data, the same 2 CPU threads, timed over the training steps only (no evaluations
during training; both final models are then scored on the full validation split, non-overlapping windows):
    nanogpt-replica       the peer
    glossa same-arch fp32 glossa's Trainer, gpt2-style preset with the same shape, fp32 AdamW: tokens/s ratio
    glossa same-arch bf16 the same under bf16 autocast (matmuls in bf16 on AVX-512 BF16, ~2.4x fp32 here;
                          attention core, norms and the loss in fp32) - nanoGPT runs fp32 on a CPU
    glossa fast recipe    Llama-style block (RMSNorm, SwiGLU, RoPE), Muon + AdamW (or AdamW), higher LR,
                          fewer steps: wall time to reach the peer's final validation loss
Then a paired timing: the peer and the same-arch trainer (fp32, bf16) take turns in blocks of 100 steps in
one process, which cancels the VM's drift (the sequential rows above move ±20% from run to run).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"
N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH, ITERS = 4, 4, 128, 64, 12, 2000
LR, MIN_LR, WARMUP, BETAS, WEIGHT_DECAY, CLIP = 1e-3, 1e-4, 100, (0.9, 0.99), 0.1, 1.0


def load_data() -> tuple[np.ndarray, np.ndarray, int]:
    text = DATA.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    cut = int(0.9 * len(ids))
    return ids[:cut], ids[cut:], len(chars)


# -- the peer: nanoGPT's model and loop, written from its description ---------------------------------------


class SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD)
        self.c_proj = nn.Linear(N_EMBD, N_EMBD)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
        q, k, v = (z.view(b, t, N_HEAD, c // N_HEAD).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class GPT2Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(N_EMBD), SelfAttention()
        self.ln_2 = nn.LayerNorm(N_EMBD)
        self.mlp = nn.Sequential(nn.Linear(N_EMBD, 4 * N_EMBD), nn.GELU(), nn.Linear(4 * N_EMBD, N_EMBD))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPTReplica(nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, N_EMBD), nn.Embedding(BLOCK, N_EMBD)
        self.h = nn.ModuleList(GPT2Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.lm_head = nn.Linear(N_EMBD, vocab, bias=False)
        self.wte.weight = self.lm_head.weight
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = (
                    0.02 / math.sqrt(2 * N_LAYER)
                    if name.endswith(("c_proj.weight", "mlp.2.weight"))
                    else 0.02
                )
                nn.init.normal_(p, std=std)
            elif name.endswith("bias") and "ln" not in name:
                nn.init.zeros_(p)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def nanogpt_lr(it: int) -> float:
    if it < WARMUP:
        return LR * (it + 1) / (WARMUP + 1)
    ratio = (it - WARMUP) / (ITERS - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * min(ratio, 1.0))) * (LR - MIN_LR)


def peer_step_function(train: np.ndarray, vocab: int) -> tuple[nn.Module, Callable[[int], None]]:
    """The peer's model and one iteration of its loop (`step(it)`)."""
    torch.manual_seed(1337)
    model = NanoGPTReplica(vocab)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": WEIGHT_DECAY},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=LR, betas=BETAS)
    data = torch.from_numpy(train)

    def step(it: int) -> None:
        for group in optimizer.param_groups:
            group["lr"] = nanogpt_lr(it)
        ix = torch.randint(len(data) - BLOCK, (BATCH,))
        x = torch.stack([data[i : i + BLOCK] for i in ix])
        y = torch.stack([data[i + 1 : i + 1 + BLOCK] for i in ix])
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return model, step


def run_peer(train: np.ndarray, vocab: int) -> tuple[nn.Module, float, float]:
    model, step = peer_step_function(train, vocab)
    start, cpu = time.perf_counter(), time.process_time()
    for it in range(ITERS):
        step(it)
    return model, time.perf_counter() - start, time.process_time() - cpu


def paired_step_times(train: np.ndarray, val: np.ndarray, vocab: int, threads: int, blocks: int) -> dict:
    """Milliseconds per training step, the peer and glossa's same-arch trainer in fp32 and bf16 taking
    turns in blocks of 100 steps in one process, so a machine that speeds up or slows down during the
    benchmark (this VM drifts by 20-30% over minutes) weighs on every side alike. Median over the blocks."""
    from glossa.train.config import from_dict
    from glossa.train.trainer import Trainer

    steps: dict[str, Callable[[int], None]] = {"nanogpt-replica": peer_step_function(train, vocab)[1]}
    with tempfile.TemporaryDirectory() as out:
        for precision in ("fp32", "bf16"):
            values = {**SAME_ARCH, "precision": precision, "out_dir": f"{out}/{precision}"}
            config = from_dict({**values, "display": False, "resume": False, "threads": threads})
            config.tokens = {"train": train, "val": val[: BLOCK * BATCH * 2 + 1]}
            trainer = Trainer(config)
            steps[f"glossa same-arch {precision}"] = lambda it, trainer=trainer: trainer._train_step()
        times: dict[str, list[float]] = {name: [] for name in steps}
        for step in steps.values():  # warm-up
            for it in range(20):
                step(it)
        for block in range(blocks):
            for name, step in steps.items():
                start = time.perf_counter()
                for it in range(100):
                    step(block * 100 + it)
                times[name].append((time.perf_counter() - start) * 10)
    return {name: float(np.median(values)) for name, values in times.items()}


@torch.no_grad()
def full_val_loss(model: nn.Module, val: np.ndarray, glossa: bool) -> float:
    from glossa.train.data import sequential_batches

    model.eval()
    nats, count = 0.0, 0
    for x, y in sequential_batches(val, BLOCK, 64):
        logits = model(x).logits if glossa else model(x)
        nats += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").item()
        count += y.numel()
    return nats / count


# -- glossa -------------------------------------------------------------------------------------------------


def run_glossa(
    train: np.ndarray, val: np.ndarray, values: dict, threads: int
) -> tuple[nn.Module, float, float]:
    from glossa.train.config import from_dict
    from glossa.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as out:
        config = from_dict({**values, "out_dir": out, "display": False, "resume": False, "threads": threads})
        config.tokens = {"train": train, "val": val[: BLOCK * BATCH * 2 + 1]}
        trainer = Trainer(config)
        cpu = time.process_time()
        trainer.train()
        cpu = time.process_time() - cpu
        last = [line for line in (Path(out) / "log.jsonl").read_text().splitlines() if '"loss"' in line][-1]
        import json

        loop = json.loads(last)["time"]  # the training steps only (no setup, final eval, saving, plots)
    return trainer.model, loop, cpu


SAME_ARCH = {
    "model": {
        "preset": "gpt2-small",
        "d_model": N_EMBD,
        "n_layers": N_LAYER,
        "n_heads": N_HEAD,
        "d_ff": 4 * N_EMBD,
        "ffn_kind": "gelu",
        "context_length": BLOCK,
    },
    "batch_size": BATCH,
    "seq_len": BLOCK,
    "max_steps": ITERS,
    "grad_clip": CLIP,
    "precision": "fp32",
    "eval_batches": 1,
    "log_every": 100,
    "seed": 1337,
    "optim": {"name": "adamw", "lr": LR, "betas": list(BETAS), "weight_decay": WEIGHT_DECAY},
    "schedule": {"kind": "cosine", "warmup_steps": WARMUP, "min_lr_ratio": MIN_LR / LR},
}


def fast_recipe(steps: int, optimizer: str = "muon", precision: str = "bf16") -> dict:
    optim = {"name": "muon", "lr": 4e-3, "muon_lr": 0.03, "betas": [0.9, 0.95], "weight_decay": 0.0}
    if optimizer == "adamw":
        optim = {"name": "adamw", "lr": 3e-3, "betas": [0.9, 0.95], "weight_decay": 0.1}
    return {
        "model": {
            "preset": "llama-tiny",
            "d_model": N_EMBD,
            "n_layers": N_LAYER,
            "n_heads": N_HEAD,
            "n_kv_heads": N_HEAD,
            "d_ff": 344,
            "context_length": BLOCK,
        },
        "batch_size": BATCH,
        "seq_len": BLOCK,
        "max_steps": steps,
        "grad_clip": CLIP,
        "precision": precision,
        "eval_batches": 1,
        "log_every": 100,
        "seed": 1337,
        "optim": optim,
        "schedule": {"kind": "cosine", "warmup_steps": 50, "min_lr_ratio": 0.05},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--same-arch-steps", type=int, default=ITERS, help="fewer: a tokens/s probe only")
    parser.add_argument("--same-arch-precisions", nargs="*", default=["fp32", "bf16"])
    parser.add_argument("--fast", nargs="*", default=["adamw:800", "muon:800"], help="optimizer:steps")
    parser.add_argument("--fast-precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--paired-blocks", type=int, default=5, help="0: skip the paired step timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, val, vocab = load_data()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch "
        f"{torch.__version__}, {args.threads} threads; load average {os.getloadavg()[0]:.1f}"
    )
    rows = []

    def record(name: str, repeat: int, steps: int, wall: float, cpu: float, loss: float) -> None:
        rows.append((name, repeat, steps, wall, cpu, BATCH * BLOCK * steps / wall, loss))
        print(*rows[-1], flush=True)

    for repeat in range(args.repeats):
        model, wall, cpu = run_peer(train, vocab)
        record("nanogpt-replica", repeat, ITERS, wall, cpu, full_val_loss(model, val, False))
        for precision in args.same_arch_precisions:
            same = {**SAME_ARCH, "max_steps": args.same_arch_steps, "precision": precision}
            model, wall, cpu = run_glossa(train, val, same, args.threads)
            loss = full_val_loss(model, val, True)
            record(f"glossa same-arch {precision}", repeat, args.same_arch_steps, wall, cpu, loss)
        for spec in args.fast:
            optimizer, steps = spec.split(":")
            recipe = fast_recipe(int(steps), optimizer, args.fast_precision)
            model, wall, cpu = run_glossa(train, val, recipe, args.threads)
            record(f"glossa fast {optimizer}", repeat, int(steps), wall, cpu, full_val_loss(model, val, True))
    print("\n| run | repeat | steps | train wall s | process CPU s | tokens/s (wall) | full-val loss |")
    print("|---|---|---|---|---|---|---|")
    for name, repeat, steps, wall, cpu, speed, loss in rows:
        print(f"| {name} | {repeat} | {steps} | {wall:.1f} | {cpu:.1f} | {speed:,.0f} | {loss:.4f} |")
    for repeat in range(args.repeats):
        peer = next(r for r in rows if r[0] == "nanogpt-replica" and r[1] == repeat)
        for row in rows:
            if row[1] == repeat and row is not peer:
                print(
                    f"repeat {repeat}: {row[0]}: wall ×{row[3] / peer[3]:.2f}, CPU ×{row[4] / peer[4]:.2f}"
                    f" of the peer's; tokens/s ×{row[5] / peer[5]:.2f} (wall), "
                    f"×{(row[2] / row[4]) / (peer[2] / peer[4]):.2f} (CPU); "
                    f"val loss {row[6]:.4f} vs {peer[6]:.4f}"
                )

    if args.paired_blocks:
        paired = paired_step_times(train, val, vocab, args.threads, args.paired_blocks)
        peer = paired["nanogpt-replica"]
        print(f"\npaired step times ({args.paired_blocks} blocks of 100 steps, taking turns; median):")
        for name, milliseconds in paired.items():
            print(f"  {name}: {milliseconds:.1f} ms/step, tokens/s ×{peer / milliseconds:.2f} of the peer's")


if __name__ == "__main__":
    main()

"""`glossa train CONFIG [--key=value ...]` and `glossa lr-schedule`: run a training recipe; see a schedule.

    glossa train recipes/tinyshakespeare_char.toml
    glossa train recipes/tinyshakespeare_char.toml --max_steps=200 --optim.lr=3e-3 --out_dir=runs/try
    torchrun --nproc_per_node=2 -m glossa train recipes/tinyshakespeare_char.toml    data parallel (gloo)
    glossa lr-schedule --kind cosine --steps 2000 --warmup 100 --min-ratio 0.1 --out lr.png

Every field of the recipe (`glossa.train.config.TrainConfig`) can be overridden with `--key=value`; nested
fields with dotted keys. Running the same command again with the same out_dir resumes from its newest
checkpoint. torch is imported inside the commands, so `glossa --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glossa.cli.console import console


def register(app: typer.Typer) -> None:
    """Add `glossa train` and `glossa lr-schedule` to the glossa app."""
    app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(train)
    app.command("lr-schedule")(lr_schedule)


def train(
    context: typer.Context,
    config: Annotated[str, typer.Argument(help="a TOML (or YAML) training recipe, e.g. recipes/*.toml")],
) -> None:
    """Train a model from a recipe; --key=value overrides any field (dotted for nested: --optim.lr=1e-3)."""
    from glossa.train.config import load_config
    from glossa.train.trainer import train as run

    settings = load_config(config, list(context.args))
    summary = run(settings)
    val = summary.get("val", {})
    line = f"done: {summary['steps']} steps, train loss {summary['train_loss']:.4f}"
    if val:
        line += f", val loss {val['loss']:.4f}, perplexity {val['perplexity']:.2f}"
        if "bpb" in val:
            line += f", {val['bpb']:.3f} bits/byte"
    console.print(line + f"; written to {settings.out_dir}", highlight=False)


def lr_schedule(
    kind: Annotated[str, typer.Option(help="constant, cosine, linear or wsd")] = "cosine",
    steps: Annotated[int, typer.Option(help="total steps")] = 1000,
    warmup: Annotated[int, typer.Option(help="linear warmup steps")] = 100,
    lr: Annotated[float, typer.Option(help="peak learning rate")] = 1e-3,
    min_ratio: Annotated[float, typer.Option(help="final LR as a fraction of the peak")] = 0.1,
    decay_fraction: Annotated[float, typer.Option(help="wsd: fraction of steps that decay")] = 0.2,
    out: Annotated[Path | None, typer.Option(help="write a PNG plot of the schedule here")] = None,
) -> None:
    """Print a learning-rate schedule (warmup, then decay) at key steps, and plot it."""
    from glossa.train.schedules import Schedule

    schedule = Schedule(kind, steps, warmup, min_ratio, decay_fraction)
    marks = sorted({0, max(warmup - 1, 0), warmup, steps // 4, steps // 2, 3 * steps // 4, steps - 1})
    for step in marks:
        console.print(f"step {step:>7}  lr {lr * schedule(step):.3e}", highlight=False)
    if out is not None:
        from glossa.plots import new_figure, save_figure

        figure, axes = new_figure()
        axes.plot(range(steps), [lr * schedule(s) for s in range(steps)])
        axes.set(xlabel="step", ylabel="learning rate", title=f"{kind} schedule, {warmup} warmup steps")
        save_figure(figure, out)
        console.print(f"plot written to {out}")

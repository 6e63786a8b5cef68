"""`glossa generate-toy`: train a GAN, a VAE or a diffusion model on 2-D toy data and score its samples.

    glossa generate-toy diffusion                          ring of 8 Gaussians, default steps, ~10 s
    glossa generate-toy gan --data moons --steps 3000 --out gan-moons.png
    glossa generate-toy vae --seed 3 --out vae.png

One seeded stream of toy points is split into training data (8,192 points) and held-out points (2,000); the
trained model draws 2,000 samples, and the table compares them with the held-out points: MMD² (Gaussian
kernel, unbiased; next to the same number for real training points, the noise floor) and, on the ring, how
many of the 8 modes the samples cover. `--out` writes a scatter plot of held-out and generated points.

The models are tiny (a few MLPs of width 64-128), so each step costs per-operation overhead, not arithmetic:
training runs on one thread, where OpenMP's fork and join on every small op would only slow it down.
torch and the models are imported inside the command, so `glossa --help` stays fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from glossa.cli.console import console
from glossa.errors import GlossaError

KINDS = ("gan", "vae", "diffusion")
DATASETS = ("ring", "moons", "spiral")
DEFAULT_STEPS = {"gan": 2000, "vae": 2000, "diffusion": 2000}
TRAIN_POINTS, HELD_OUT_POINTS, SAMPLES = 8192, 2000, 2000


def register(app: typer.Typer) -> None:
    """Add `glossa generate-toy` to the glossa app."""
    app.command("generate-toy")(generate_toy)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, and restore the previous setting after it."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(kind: str, data, steps: int, seed: int, on_step: Callable[[int], None]):
    """Train `kind`; return (a function n, seed → samples, loss rows for the table)."""
    from glossa.models import diffusion, gan, vae

    def last(values: list[float]) -> float:
        tail = values[-100:]
        return sum(tail) / len(tail)

    if kind == "gan":
        generator, history = gan.train_gan(data, steps, seed, callback=on_step)
        rows = [
            (
                "discriminator loss (2 ln 2 ≈ 1.386 at equilibrium)",
                f"{last(history['discriminator_loss']):.3f}",
            ),
            ("generator loss (ln 2 ≈ 0.693 at equilibrium)", f"{last(history['generator_loss']):.3f}"),
            ("discriminator accuracy (0.5 at equilibrium)", f"{last(history['discriminator_accuracy']):.3f}"),
        ]
        return (lambda n, s: gan.sample(generator, n, s)), rows
    if kind == "vae":
        model, history = vae.train_vae(data, steps, seed, callback=on_step)
        rows = [
            ("loss = -ELBO (nats per point)", f"{last(history['loss']):.3f}"),
            ("  KL(q(z|x) || N(0, I))", f"{last(history['kl']):.3f}"),
        ]
        return (lambda n, s: vae.sample(model, n, s)), rows
    trained, history = diffusion.train_diffusion(data, steps, seed, callback=on_step)
    rows = [("loss = |ε - ε_θ(x_t, t)|² per coordinate", f"{last(history['loss']):.4f}")]
    return (lambda n, s: diffusion.sample(trained, n, s)), rows


def generate_toy(
    kind: Annotated[str, typer.Argument(help=f"The model: {', '.join(KINDS)}.", show_default=False)],
    data: Annotated[str, typer.Option(help=f"Toy distribution: {', '.join(DATASETS)}.")] = "ring",
    steps: Annotated[
        int | None, typer.Option(help="Training steps (default: 2000 for each model).", show_default=False)
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the data, the model and its samples.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Write a scatter plot of real and generated points (PNG).")
    ] = None,
) -> None:
    """Train a small GAN, VAE or diffusion model on 2-D toy data; print MMD² and mode coverage."""
    if kind not in KINDS:
        raise GlossaError(f"unknown model {kind!r}: use one of {', '.join(KINDS)}")
    if data not in DATASETS:
        raise GlossaError(f"unknown toy data {data!r}: use one of {', '.join(DATASETS)}")
    steps = DEFAULT_STEPS[kind] if steps is None else steps
    if steps < 1:
        raise GlossaError(f"--steps must be at least 1, not {steps}")
    if not 0 <= seed < 2**32:
        raise GlossaError(f"--seed must be between 0 and 2**32 - 1, not {seed}")
    if out is not None:
        if out.suffix.lower() != ".png":
            raise GlossaError(f"--out must name a .png file, not {out}")
        if not out.parent.is_dir():
            raise GlossaError(f"cannot write {out}: the folder {out.parent} does not exist; create it first")

    from glossa.models.toy_data import mmd2, mode_coverage, toy_samples

    points = toy_samples(data, TRAIN_POINTS + HELD_OUT_POINTS, seed)
    train, held_out = points[:TRAIN_POINTS], points[TRAIN_POINTS:]
    with one_thread():
        progress = Progress(
            TextColumn(f"training {kind} on {data}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        with progress:
            task = progress.add_task("steps", total=steps)
            started = time.perf_counter()
            draw, loss_rows = _train(
                kind, train, steps, seed, lambda done: progress.update(task, completed=done)
            )
            training_seconds = time.perf_counter() - started
        started = time.perf_counter()
        generated = draw(SAMPLES, seed + 1)
        sampling_seconds = time.perf_counter() - started

    table = Table(title=f"{kind} on {data}: {steps:,} steps, seed {seed}", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    score = mmd2(generated, held_out)
    table.add_row(f"MMD² of {SAMPLES:,} samples to held-out data (lower is better)", _mmd(score))
    table.add_row(
        "MMD² of real training points to held-out data (the floor)", _mmd(mmd2(train[:SAMPLES], held_out))
    )
    coverage = None
    if data == "ring":
        coverage = mode_coverage(generated)
        table.add_row("ring modes covered (≥ 2% of samples within 3σ)", f"{coverage.covered} / 8")
        table.add_row("samples within 3σ of some mode", f"{coverage.near_share:.1%}")
    for name, value in loss_rows:
        table.add_row(f"{name}, last 100 steps", value)
    table.add_row("training time", f"{training_seconds:.1f} s")
    table.add_row(f"sampling time ({SAMPLES:,} points)", f"{sampling_seconds:.2f} s")
    console.print(table)

    if out is not None:
        _plot(
            out,
            held_out,
            generated,
            f"{kind} on {data}: MMD² {_mmd(score)}" + (f", {coverage.covered}/8 modes" if coverage else ""),
        )
        console.print(f"wrote {out}")


def _mmd(value: float) -> str:
    """Four decimals; the unbiased estimate can dip just below 0, which reads as "-0.0000" otherwise."""
    return f"{value:.4f}" if abs(value) >= 5e-5 else "≈ 0"


def _plot(path: Path, real, generated, title: str) -> None:
    from glossa.plots import new_figure, save_figure

    figure, axes = new_figure(5.6, 5.6)
    axes.scatter(real[:, 0], real[:, 1], s=4, alpha=0.35, color="0.45", label="held-out real")
    axes.scatter(generated[:, 0], generated[:, 1], s=4, alpha=0.5, color="tab:orange", label="generated")
    axes.set_aspect("equal", adjustable="datalim")
    axes.set_title(title)
    axes.legend(loc="upper right", markerscale=3)
    try:
        save_figure(figure, path)
    except OSError as error:
        raise GlossaError(f"cannot write {path}: {error.strerror or error}") from None

"""Teaching commands for §4 (information theory) and §11–13 (training, data): each runs in seconds on a CPU.

    glossa score "To be, or not to be"      per-token probability and surprise; log-likelihood, NLL,
                                            cross-entropy, perplexity, bits per token/character/byte, entropy
    glossa optimize [--optim adam] --out opt.png   gradient descent vs SGD vs Adam/AdamW/Muon on least squares
    glossa grad-clip --max-norm 1.0         one exploding batch, with and without clipping
    glossa grad-accum --micro 8 --accum 4   one batch = accumulated micro-batches = all-reduced ranks
    glossa fit-demo                         underfitting → best → overfitting → early stop; epochs, validation
                                            and test sets, checkpoints, a resume
    glossa train-step                       activation memory with and without gradient checkpointing;
                                            fp32 vs bf16 autocast
    glossa data-quality                     cleaning, filtering, dedup, PII on a corpus with planted faults
    glossa data-formats                     the same records as JSONL, Parquet, Arrow and TFRecord

The logic lives in small library modules (glossa.evals.score, glossa.train.lessons, glossa.data.lessons);
these wrappers only parse options and print Rich tables. torch is imported inside the commands, so
`glossa --help` stays fast. Tiny models run on one thread: OpenMP's fork and join costs more than it saves.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from glossa.cli.console import console
from glossa.cli.generative import one_thread


def register(app: typer.Typer) -> None:
    """Add the lesson commands to the glossa app."""
    for name, command in (
        ("score", score),
        ("optimize", optimize),
        ("grad-clip", grad_clip),
        ("grad-accum", grad_accum),
        ("fit-demo", fit_demo),
        ("train-step", train_step),
        ("data-quality", data_quality),
        ("data-formats", data_formats),
    ):
        app.command(name)(command)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


# -- §4 -----------------------------------------------------------------------------------------------------


def score(
    text: Annotated[
        str, typer.Argument(help="the text to score")
    ] = "To be, or not to be, that is the question.",
    model: Annotated[
        str, typer.Option(help="a glossa.load_model source: smollm2, a GGUF, a folder")
    ] = "smollm2",
    out: Annotated[
        Path | None, typer.Option(help="write a PNG of each token's surprise in bits here")
    ] = None,
) -> None:
    """How surprised a language model is by each token of a text, and every §4 total derived from that."""
    from glossa.errors import GlossaError
    from glossa.evals.score import score_text
    from glossa.models.loading import load_model
    from glossa.tokenizers.loading import load_tokenizer

    if not text.strip():
        raise GlossaError('nothing to score: give a text, e.g. glossa score "To be, or not to be"')
    result = score_text(load_model(model), load_tokenizer(model), text)
    tokens = _table(f"{model}: p(token | everything before it)", "token", "p", "nats -ln p", "bits -log2 p")
    for token in result.tokens:
        tokens.add_row(repr(token.text), f"{token.probability:.4f}", f"{token.nats:.3f}", f"{token.bits:.3f}")
    console.print(tokens)
    chars, size = len(result.scored_text), result.scored_bytes
    context = "all but the first" if result.context_id is None else "after a document separator"
    totals = _table("totals", "quantity", "value", "how")
    rows = (
        ("tokens scored", str(len(result.tokens)), context),
        ("log-likelihood", f"{result.log_likelihood:.3f} nats", "Σ ln p"),
        ("negative log-likelihood", f"{result.negative_log_likelihood:.3f} nats", "-Σ ln p"),
        ("cross-entropy (LM loss)", f"{result.cross_entropy:.4f} nats/token", "NLL / tokens"),
        ("perplexity", f"{result.perplexity:.2f}", "e^cross-entropy"),
        ("bits per token", f"{result.bits_per_token:.4f}", "NLL / ln 2 / tokens"),
        ("bits per character", f"{result.bits_per_character:.4f}", f"NLL / ln 2 / {chars} chars"),
        ("bits per byte", f"{result.bits_per_byte:.4f}", f"NLL / ln 2 / {size} UTF-8 bytes"),
        ("zero-order entropy", f"{result.entropy.bits_per_character:.4f} bits/char", "H of its characters"),
    )
    for row in rows:
        totals.add_row(*row)
    console.print(totals)
    if out is not None:
        from glossa.plots import new_figure, save_figure

        figure, axes = new_figure(width=max(6.4, 0.45 * len(result.tokens)))
        axes.bar(range(len(result.tokens)), [token.bits for token in result.tokens])
        axes.axhline(
            result.bits_per_token, color="black", linestyle="--", label="mean: cross-entropy in bits"
        )
        axes.set_xticks(range(len(result.tokens)), [token.text for token in result.tokens], rotation=60)
        axes.set(ylabel="surprise, bits (-log2 p)", title=f"{model}: surprise per token")
        axes.legend()
        save_figure(figure, out)
        console.print(f"plot written to {out}")


# -- §11 optimizers -----------------------------------------------------------------------------------------


def optimize(
    optim: Annotated[
        list[str] | None, typer.Option(help="gd, sgd, adam, adamw or muon; repeat to compare (default: all)")
    ] = None,
    steps: Annotated[int, typer.Option(help="optimizer steps")] = 100,
    batch: Annotated[
        int, typer.Option(help="mini-batch size for the stochastic ones (of 512 examples)")
    ] = 16,
    lr: Annotated[float | None, typer.Option(help="learning rate (default: one per optimizer)")] = None,
    out: Annotated[Path | None, typer.Option(help="write a PNG of the loss curves here")] = None,
) -> None:
    """Optimizers on least squares, whose minimum is known: excess loss L(W) - L(W_best) per step."""
    from glossa.train.lessons.optimizers import OPTIMIZERS, excess_loss_curve, least_squares

    names = optim or list(OPTIMIZERS)
    problem = least_squares()
    with one_thread():
        curves = {name: excess_loss_curve(name, problem, steps, batch, lr) for name in names}
    marks = sorted({0, 1, 2, 5, 10, 20, 50, 100, 200, 500, steps} & set(range(steps + 1)))
    table = _table("least squares: excess loss L(W) - L(W_best)", "step", *names)
    for step in marks:
        table.add_row(str(step), *(f"{curves[name][step]:.2e}" for name in names))
    console.print(table)
    console.print(
        f"W: 8 × 4, from 512 examples; minimum L(W_best) = {problem.best_loss:.4f} (normal equations); "
        f"gd uses all 512 examples per step, the others random mini-batches of {batch}",
        highlight=False,
    )
    if out is not None:
        from glossa.plots import new_figure, save_figure

        figure, axes = new_figure()
        for name, curve in curves.items():
            # float32 rounding: below ~1e-7 the excess is noise, so the floor of the plot is 1e-8
            axes.semilogy(range(len(curve)), [max(value, 1e-8) for value in curve], label=name)
        axes.set(xlabel="step", ylabel="loss - minimum", title="optimizers on least squares")
        axes.legend()
        save_figure(figure, out)
        console.print(f"plot written to {out}")


def grad_clip(
    max_norm: Annotated[float, typer.Option(help="clip the global gradient norm to this")] = 1.0,
    steps: Annotated[int, typer.Option(help="training steps")] = 8,
    spike_step: Annotated[int, typer.Option(help="the step whose batch has 100× inputs")] = 4,
) -> None:
    """Global-norm gradient clipping: one bad batch, the same run with and without it."""
    from glossa.train.lessons.clipping import clipping_lesson

    with one_thread():
        rows = clipping_lesson(max_norm, steps, spike_step)
    table = _table(
        f"SGD on an MLP, clipped at ‖g‖ ≤ {max_norm} vs not",
        "step",
        "loss",
        "‖g‖",
        "‖g‖ clipped",
        "loss (no clip)",
        "‖g‖ (no clip)",
    )
    for row in rows:
        table.add_row(
            f"{row.step}{' spike' if row.spike else ''}",
            f"{row.loss_clipped:.4g}",
            f"{row.norm_before:.4g}",
            f"{row.norm_after:.4g}",
            f"{row.loss_unclipped:.4g}",
            f"{row.norm_unclipped:.4g}",
        )
    console.print(table)


def grad_accum(
    micro: Annotated[int, typer.Option(help="micro-batch size (sequences)")] = 8,
    accum: Annotated[int, typer.Option(help="micro-batches accumulated per step")] = 4,
    ranks: Annotated[int, typer.Option(help="data-parallel processes (gloo); 0 skips them")] = 2,
) -> None:
    """Batch size three ways: one batch, gradient accumulation, data-parallel ranks — the same gradient."""
    from glossa.train.lessons.accumulation import accumulation_lesson

    with one_thread():
        ways = accumulation_lesson(micro, accum, ranks)
    table = _table(
        f"gradient of one batch of {micro * accum} sequences (llama-tiny)",
        "computed as",
        "layout",
        "‖g‖",
        "max |g - g_batch|",
    )
    for way in ways:
        table.add_row(way.name, way.layout, f"{way.norm:.6f}", f"{way.max_abs_difference:.1e}")
    console.print(table)


# -- §12–13 training runs -----------------------------------------------------------------------------------


def fit_demo(
    out_dir: Annotated[Path | None, typer.Option(help="run folder (default: runs/fit-demo-<time>)")] = None,
    eval_every: Annotated[int, typer.Option(help="evaluate (and checkpoint) every N steps")] = 5,
    patience: Annotated[int, typer.Option(help="evaluations without a new best before stopping")] = 4,
) -> None:
    """Train a tiny model on 600 bytes: underfitting, best point, overfitting, early stopping, test score."""
    from glossa.train.lessons.fitting import fit_lesson

    folder = out_dir or Path("runs") / time.strftime("fit-demo-%Y%m%d-%H%M%S")
    with one_thread():
        result = fit_lesson(folder, eval_every=eval_every, patience=patience)
    table = _table(
        "llama-tiny on 600 bytes, validated on the next 1,500 (losses in nats/byte)",
        "step",
        "epoch",
        "train loss",
        "val loss",
        "",
    )
    for row in result.evaluations:
        table.add_row(
            str(row.step), f"{row.epoch:.1f}", f"{row.train_loss:.3f}", f"{row.val_loss:.3f}", row.verdict
        )
    console.print(table)
    test = result.test
    stop = f"early stopping (patience {patience})" if result.stopped_early else "the step limit"
    lines = [
        f"killed after step {result.interrupted_at}, started again: resumed from step {result.resumed_from}",
        f"stopped at step {result.steps} by {stop}; best validation loss at step {result.best_step}",
        f"test set, scored once at the end: loss {test['loss']:.3f}, perplexity {test['perplexity']:.2f}, "
        f"{test['bpb']:.3f} bits/byte",
        f"checkpoints in {folder / 'checkpoints'}: {', '.join(result.checkpoints)} (the best and the last 2)",
        f"loss curves: {folder / 'loss.png'}",
    ]
    for line in lines:
        console.print(line, highlight=False)


def train_step(
    batch: Annotated[int, typer.Option(help="sequences per step")] = 4,
    seq_len: Annotated[int, typer.Option(help="tokens per sequence")] = 128,
) -> None:
    """One training step four ways: fp32 or bf16 autocast, with or without gradient checkpointing."""
    from glossa.errors import GlossaError
    from glossa.train.lessons.step_cost import step_cost_lesson

    if batch < 1 or not 2 <= seq_len <= 1024:
        raise GlossaError("--batch must be at least 1 and --seq-len between 2 and 1024")
    with one_thread():
        results = step_cost_lesson(batch, seq_len)
    table = _table(
        f"one forward + backward, 4-layer decoder, batch {batch} × {seq_len} tokens",
        "step",
        "activations",
        "peak",
        "loss",
        "|Δ loss|",
        "|Δ grad|",
        "time",
    )
    for row in results:
        table.add_row(
            row.precision + (" + ckpt" if row.checkpointing else ""),
            f"{row.activation_bytes / 1e6:.1f} MB",
            f"{row.peak_bytes / 1e6:.1f} MB",
            f"{row.loss:.5f}",
            f"{row.loss_difference:.1e}",
            f"{row.grad_difference:.1e}",
            f"{row.seconds * 1000:.0f} ms",
        )
    console.print(table)
    console.print(
        "ckpt: gradient checkpointing; activations: bytes held after forward for backward; "
        "peak: during forward + backward; "
        "Δ: against plain fp32 (|Δ grad| relative to the largest gradient); time: one step, noisy",
        highlight=False,
    )


# -- §13 data -----------------------------------------------------------------------------------------------


def data_quality() -> None:
    """The pipeline's cleaning, filtering, dedup and PII stages on a mini-corpus with planted faults."""
    from glossa.data.lessons.quality import run_quality_lesson

    corpus, stages, kept = run_quality_lesson()
    planted = ", ".join(f"{fault} {count}" for fault, count in corpus.planted.items())
    console.print(f"{len(corpus.records)} documents; planted: {planted}", highlight=False)
    expected = corpus.expected()
    table = _table(
        "stages (as in glossa data prepare)", "stage", "in", "kept", "changed", "dropped", "planted"
    )
    for stage in stages:
        counts = stage.counts
        dropped = ", ".join(f"{reason} {count}" for reason, count in counts.dropped.items()) or "-"
        what, count = expected.get(stage.name, ("", 0))
        table.add_row(
            stage.name,
            str(counts.documents_in),
            str(counts.kept),
            str(counts.changed),
            dropped,
            f"{count} {what}" if what else "-",
        )
    console.print(table)
    console.print(f"{len(kept)} documents kept", highlight=False)


def data_formats(
    out_dir: Annotated[
        Path | None, typer.Option(help="keep the files here (default: a temporary folder)")
    ] = None,
) -> None:
    """The same records written as JSONL, Parquet, Arrow and TFRecord, then read back and compared."""
    from glossa.data.lessons.formats import format_lesson

    with tempfile.TemporaryDirectory(prefix="glossa-formats-") as scratch:
        results = format_lesson(out_dir or Path(scratch))
    table = _table(
        "one play's speeches in four formats",
        "format",
        "bytes",
        "records read",
        "identical",
        "quarantined",
        "read",
    )
    for row in results:
        table.add_row(
            row.name,
            f"{row.size:,}",
            f"{row.records:,}",
            "yes" if row.identical else "NO",
            str(row.quarantined),
            f"{row.read_ms:.1f} ms",
        )
    console.print(table)
    console.print(
        "the JSONL file has one malformed line planted in it: quarantined, the rest read", highlight=False
    )
    if out_dir is not None:
        console.print(f"files written to {out_dir}")

"""`glossa speedrun`: the seed's end-to-end flow run for real, ending in a report card."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from glossa.cli.console import console
from glossa.errors import GlossaError


def new_run_id() -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def speedrun_command(
    out: Path = typer.Option(Path("runs"), "--out", help="Folder that holds one sub-folder per run."),
    budget: str = typer.Option(
        "small", "--budget", help="small (the default, ~10 min on 2 CPU cores), medium (~30 min) or gpu."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
    serve: bool = typer.Option(False, "--serve", help="Keep serving the trained model when the run is done."),
    port: int = typer.Option(8000, "--port", help="Port for --serve."),
) -> None:
    """Run the whole flow: corpus, text statistics, tokenizer, data pipeline, pretraining, evaluation."""
    from glossa.speedrun.budget import BUDGETS
    from glossa.speedrun.frame import Run, run_stages
    from glossa.speedrun.stages import DEFAULT_STAGES

    if budget not in BUDGETS:
        raise GlossaError(f"no speedrun budget {budget!r}: choose one of small, medium, gpu")
    if out.exists() and not out.is_dir():
        raise GlossaError(f"--out {out} is a file; give a folder for the runs")
    run_id = new_run_id()
    run = Run(run_id=run_id, run_dir=out / run_id, settings={"out": str(out), "budget": budget})
    report = run_stages(run, DEFAULT_STAGES, show_progress=not quiet)
    print_headline(json.loads((report.parent / "summary.json").read_text()))
    console.print(f"[bold green]report card:[/] {report}")
    if "model_dir" in run.artifacts:
        from glossa.speedrun.stages.serve import serve_command, serve_config

        console.print(f"[bold green]serve the model:[/] {serve_command(run)}")
        if serve:
            from glossa.serve.server import run as run_server

            run_server(serve_config(run, port=port))


def print_headline(summary: dict) -> None:
    """The run's result in a few rows: held-out bits per byte against the baselines, and the time taken."""
    metrics = {stage["name"]: stage["metrics"] for stage in summary["stages"]}
    scores = metrics.get("evaluate")
    table = Table(title="speedrun", show_header=True, header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    if scores:
        table.add_row("test bits/byte (the model)", f"{scores['test_bits_per_byte']:.4f}")
        table.add_row("test bits/byte (token-unigram baseline)", f"{scores['unigram_bits_per_byte']:.4f}")
        table.add_row("characters' zero-order entropy", f"{scores['character_entropy_bits_per_byte']:.4f}")
        table.add_row("test perplexity", f"{scores['test_perplexity']:.2f}")
    served = metrics.get("serve")
    if served:
        table.add_row("served: median time to first token", f"{served['median_ttft_ms']:.1f} ms")
        table.add_row("served: output tokens/s", f"{served['output_tokens_per_s']:.1f}")
    table.add_row("stages, seconds", f"{sum(stage['seconds'] for stage in summary['stages']):.1f}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("speedrun")(speedrun_command)

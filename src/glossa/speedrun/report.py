"""The report card: one markdown file with a header that makes the run reproducible, then a section a stage.

The header records when and where the run happened (machine, Python, torch, code version) and its settings,
so every number in the card can be traced and reproduced. Plots are PNGs beside the report, linked relatively.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glossa.speedrun.frame import Run, StageRecord


def code_version() -> str:
    """The git commit of the source tree (with '-dirty' when it has changes), or 'unknown'."""
    source_dir = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(source_dir), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source_dir), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def machine_description() -> str:
    import torch

    return (
        f"{platform.machine()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads"
    )


def render_report(run: Run, records: list[StageRecord]) -> str:
    total_seconds = sum(record.seconds for record in records)
    lines = [
        f"# glossa speedrun — report card `{run.run_id}`",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine_description()}",
        f"- code: {code_version()}",
        f"- command: `{' '.join(['glossa', *sys.argv[1:]]) if sys.argv else 'glossa speedrun'}`",
        f"- settings: {', '.join(f'{key}={value}' for key, value in run.settings.items())}",
        "",
        "| stage | seconds | status |",
        "|---|---:|---|",
    ]
    for record in records:
        status = "ok" if record.error is None else f"failed: {record.error}"
        lines.append(f"| {record.stage.title} | {record.seconds:.2f} | {status} |")
    lines += [f"| **total** | **{total_seconds:.2f}** | |", ""]
    for number, record in enumerate(records, start=1):
        if record.section is None:
            continue
        lines += [f"## {number}. {record.section.title}", "", record.section.body.strip(), ""]
        for plot in record.section.plots:
            relative = os.path.relpath(plot, run.run_dir)
            lines += [f"![{plot.stem}]({relative})", ""]
    return "\n".join(lines)

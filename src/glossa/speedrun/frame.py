"""The speedrun frame: an ordered list of stages that hand artifacts forward and each write a report section.

A stage is a plain function `Run -> ReportSection`. It reads what earlier stages left in `run.artifacts`,
adds its own, and returns its part of the report card (markdown, plots, headline metrics). The frame times
each stage, shows progress, and rewrites `report.md` and `summary.json` after every stage, atomically, so a
run that stops half-way still leaves a readable card of what it did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from glossa.atomic import atomic_write_text
from glossa.speedrun.report import render_report


@dataclass
class ReportSection:
    title: str
    body: str
    plots: list[Path] = field(default_factory=list)
    metrics: dict[str, float | int | str] = field(default_factory=dict)


@dataclass
class Run:
    run_id: str
    run_dir: Path
    settings: dict[str, Any]
    artifacts: dict[str, Any] = field(default_factory=dict)
    status: Callable[[str], None] = field(default=lambda text: None, repr=False)  # live line of a long stage

    def plot_path(self, name: str) -> Path:
        return self.run_dir / "plots" / f"{name}.png"


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    function: Callable[[Run], ReportSection]


@dataclass
class StageRecord:
    stage: Stage
    seconds: float
    section: ReportSection | None
    error: str | None = None


def _write_outputs(run: Run, records: list[StageRecord]) -> Path:
    report_path = run.run_dir / "report.md"
    atomic_write_text(report_path, render_report(run, records))
    summary = {
        "run_id": run.run_id,
        "settings": run.settings,
        "stages": [
            {
                "name": record.stage.name,
                "seconds": round(record.seconds, 3),
                "metrics": record.section.metrics if record.section else {},
                "error": record.error,
            }
            for record in records
        ],
    }
    atomic_write_text(run.run_dir / "summary.json", json.dumps(summary, indent=2, default=str))
    return report_path


def _status_line(progress: Progress, task, stage: Stage) -> Callable[[str], None]:
    return lambda text: progress.update(task, description=f"stage: {stage.title} — {text}")


def run_stages(run: Run, stages: list[Stage], show_progress: bool = True) -> Path:
    """Run every stage in order; return the path of the report card. A failing stage stops the run."""
    records: list[StageRecord] = []
    run.run_dir.mkdir(parents=True, exist_ok=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task("speedrun", total=len(stages))
        for stage in stages:
            progress.update(task, description=f"stage: {stage.title}")
            run.status = _status_line(progress, task, stage)
            started = time.perf_counter()
            try:
                section = stage.function(run)
            except BaseException as error:
                records.append(StageRecord(stage, time.perf_counter() - started, None, error=str(error)))
                _write_outputs(run, records)
                raise
            records.append(StageRecord(stage, time.perf_counter() - started, section))
            _write_outputs(run, records)
            progress.advance(task)
        progress.update(task, description="speedrun done")
    return run.run_dir / "report.md"

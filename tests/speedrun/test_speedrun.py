"""The speedrun frame and its first stages: a real run writes a report card with plots."""

from __future__ import annotations

import json
import re

import pytest

from glossa.speedrun.frame import ReportSection, Run, Stage, run_stages


def test_speedrun_writes_report_card_with_plots(run_process, tmp_path):
    result = run_process("speedrun", "--quiet", "--out", "runs")
    assert result.exit_code == 0, result.stderr
    match = re.search(r"report card: (\S+report\.md)", result.stdout)
    assert match, result.stdout
    report_path = tmp_path / match.group(1)
    report = report_path.read_text()
    assert "Text statistics" in report and "Zipf" in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(images) >= 2
    for image in images:
        png = (report_path.parent / image).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    summary = json.loads((report_path.parent / "summary.json").read_text())
    metrics = {stage["name"]: stage["metrics"] for stage in summary["stages"]}
    assert metrics["corpus"]["documents"] == 38
    assert 4.0 < metrics["text-stats"]["bits_per_byte"] < 5.5
    assert 0.8 < metrics["text-stats"]["zipf_exponent"] < 1.3


def test_a_failing_stage_still_leaves_a_report(tmp_path):
    def good(run: Run) -> ReportSection:
        run.artifacts["x"] = 1
        return ReportSection("Good stage", "fine", metrics={"x": 1})

    def bad(run: Run) -> ReportSection:
        raise RuntimeError("disk on fire")

    run = Run(run_id="t", run_dir=tmp_path / "t", settings={})
    with pytest.raises(RuntimeError):
        run_stages(
            run, [Stage("good", "Good stage", good), Stage("bad", "Bad stage", bad)], show_progress=False
        )
    report = (tmp_path / "t" / "report.md").read_text()
    assert "Good stage" in report and "failed: disk on fire" in report


def test_speedrun_rejects_a_file_as_output_folder(run_process, tmp_path, one_line_error):
    (tmp_path / "runs").write_text("not a folder")
    one_line_error(run_process("speedrun", "--out", "runs"))

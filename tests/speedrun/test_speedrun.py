"""The speedrun frame and its first stages: a real run writes a report card with plots."""

from __future__ import annotations

import json
import re

import pytest

from glossa.speedrun.frame import ReportSection, Run, Stage, run_stages


def test_speedrun_runs_the_whole_flow_into_a_report_card(run_process, tmp_path):
    """The smoke budget runs every stage for real (seconds of training): corpus to held-out bits per byte."""
    result = run_process("speedrun", "--quiet", "--budget", "smoke", "--out", "runs")
    assert result.exit_code == 0, result.stderr
    match = re.search(r"report card: (\S+report\.md)", result.stdout)
    assert match, result.stdout
    assert "test bits/byte (the model)" in result.stdout
    report_path = tmp_path / match.group(1)
    report = report_path.read_text()
    assert "serve the model: glossa serve --model speedrun" in " ".join(result.stdout.split())
    for title in (
        "Text statistics",
        "Zipf",
        "Data pipeline",
        "Pretraining",
        "bits per byte",
        "Samples",
        "Serving",
    ):
        assert title in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(images) >= 5  # byte lengths, Zipf, token lengths, data Zipf, loss, learning rate
    for image in images:
        png = (report_path.parent / image).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    summary = json.loads((report_path.parent / "summary.json").read_text())
    metrics = {stage["name"]: stage["metrics"] for stage in summary["stages"]}
    assert metrics["corpus"]["documents"] == 38
    assert 4.0 < metrics["text-stats"]["bits_per_byte"] < 5.5
    assert 0.8 < metrics["text-stats"]["zipf_exponent"] < 1.3
    data = metrics["data"]
    assert data["scenes"] > 700 and data["validation_tokens"] > 10_000 and data["test_tokens"] > 10_000
    assert metrics["pretrain"]["steps"] >= 10
    scores = metrics["evaluate"]
    assert 0 < scores["test_bits_per_byte"] < 20 and 0 < scores["unigram_bits_per_byte"] < 5
    assert metrics["serve"]["completed"] >= 4 and metrics["serve"]["failed"] == 0
    weights = report_path.parent / "train" / "model"
    assert weights.is_dir() and any(weights.iterdir())


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


def test_speedrun_rejects_an_unknown_budget(run_process, one_line_error):
    one_line_error(run_process("speedrun", "--budget", "huge"))

"""The speedrun (§25): the seed's end-to-end flow run for real, stage by stage, into one report card."""

from glossa.speedrun.frame import ReportSection, Run, Stage, run_stages

__all__ = ["ReportSection", "Run", "Stage", "run_stages"]

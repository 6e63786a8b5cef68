"""Every demo the glossary advertises runs and exits 0, so `glossa explain TERM --run` never rots."""

import shlex

import pytest

from glossa.glossary.registry import load_glossary

DEMOS = sorted({term.demo for term in load_glossary().terms if term.demo})


@pytest.mark.parametrize("demo", DEMOS)
def test_demo_runs(run_cli, demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(*shlex.split(demo)[1:])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()

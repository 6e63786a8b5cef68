"""Schedules' values at key steps (warmup, midpoint, end) and the CLI that prints them."""

from __future__ import annotations

import itertools
import math

import pytest

from glossa.errors import GlossaError
from glossa.train.schedules import Schedule


def test_warmup_then_cosine():
    s = Schedule("cosine", total=1000, warmup=100, min_ratio=0.1)
    assert s(0) == pytest.approx(1 / 100)
    assert s(49) == pytest.approx(0.5)
    assert s(99) == pytest.approx(1.0)
    assert s(100) == pytest.approx(1.0)
    assert s(550) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through the decay
    assert s(1000) == pytest.approx(0.1)
    assert s(5000) == pytest.approx(0.1)


def test_linear_and_constant():
    linear = Schedule("linear", total=110, warmup=10, min_ratio=0.0)
    assert linear(10) == 1.0 and linear(60) == pytest.approx(0.5) and linear(110) == 0.0
    assert Schedule("constant", total=10, warmup=2)(7) == 1.0


def test_warmup_stable_decay():
    s = Schedule("wsd", total=1000, warmup=10, min_ratio=0.0, decay_fraction=0.2)
    assert s(500) == 1.0 and s(799) == 1.0
    assert s(900) == pytest.approx(0.5)
    assert s(1000) == pytest.approx(0.0)


def test_cosine_is_monotone_after_warmup():
    s = Schedule("cosine", total=300, warmup=30)
    values = [s(t) for t in range(30, 301)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert not any(math.isnan(v) for v in values)


def test_unknown_kind_is_a_glossa_error():
    with pytest.raises(GlossaError, match="unknown schedule"):
        Schedule("exponential", total=10)


def test_lr_schedule_command_prints_and_plots(tmp_path):
    import typer
    from typer.testing import CliRunner

    from glossa.cli.train import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "lr.png"
    result = CliRunner().invoke(app, ["lr-schedule", "--steps", "200", "--warmup", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "step      20  lr 1.000e-03" in result.output
    assert out.read_bytes()[:4] == b"\x89PNG"

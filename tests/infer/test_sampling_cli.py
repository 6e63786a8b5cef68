"""`glossa sample-demo` on the real SmolLM2: the distribution before and after each filter; bad options."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from glossa.cli import sample
from glossa.errors import GlossaError


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    sample.register(app)
    app.command("noop")(lambda: None)  # two commands, so Typer keeps the command name in the arguments
    return app


def test_demo_shows_every_filter_on_the_real_model(app):
    args = ["sample-demo", "The capital of France is", "--top-k", "5", "--top-p", "0.95", "--min-p", "0.01"]
    result = CliRunner().invoke(app, args, terminal_width=140)
    assert result.exit_code == 0, result.output
    for title in ("softmax", "temperature 0.8", "top-k 5", "top-p 0.95", "min-p 0.01", "greedy (argmax)"):
        assert title in result.output
    assert "' Paris'" in result.output  # SmolLM2 knows this one
    assert "5 tokens possible" in result.output


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--top-p", "1.5", "top_p must be in (0, 1], got 1.5"),
        ("--top-p", "0", "top_p must be in (0, 1], got 0"),
        ("--temperature", "-1", "temperature must be a finite number >= 0"),
        ("--min-p", "1", "min_p must be in [0, 1)"),
        ("--top-k", "-3", "top_k must be an integer >= 1"),
    ],
)
def test_bad_options_are_glossa_errors_before_loading_anything(app, option, value, message):
    result = CliRunner().invoke(app, ["sample-demo", "hello", option, value])
    assert isinstance(result.exception, GlossaError)
    assert str(result.exception).startswith(message)


def test_an_empty_prompt_is_a_glossa_error(app):
    result = CliRunner().invoke(app, ["sample-demo", "  "])
    assert isinstance(result.exception, GlossaError)
    assert "prompt is empty" in str(result.exception)

"""Config: recipes from TOML/YAML, --key=value overrides, and every bad input as one-line GlossaError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from glossa.errors import GlossaError
from glossa.train.config import load_config, parse_override
from glossa.train.trainer import Trainer

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_recipes_load_and_override():
    for recipe in RECIPES.glob("*.toml"):
        assert load_config(recipe).max_steps > 0
    config = load_config(RECIPES / "tinyshakespeare_char.toml", ["--optim.lr=3e-3", "--max_steps=7"])
    assert config.optim.lr == 3e-3 and config.max_steps == 7


def test_yaml_recipe(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("max_steps: 3\noptim:\n  name: sgd\n  lr: 0.1\n")
    config = load_config(path)
    assert config.optim.name == "sgd" and config.max_steps == 3


def test_override_values_parse_as_toml():
    assert parse_override("--optim.betas=[0.9,0.95]") == ("optim.betas", [0.9, 0.95])
    assert parse_override("--deterministic=true") == ("deterministic", True)
    assert parse_override("--out_dir=runs/x") == ("out_dir", "runs/x")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["--learning_rate=1"], "unknown setting learning_rate"),
        (["--optim.momentun=0.9"], "unknown setting optim.momentun"),
        (["--max_steps=many"], "max_steps must be int"),
        (["--batch_size=0"], "batch_size must be at least 1"),
        (["--optim.name=lion"], "unknown optim.name 'lion'"),
        (["--precision=fp8"], "unknown precision"),
        (["--optim.betas=[0.9]"], "optim.betas must be two numbers"),
        (["max_steps"], "must look like --key=value"),
    ],
)
def test_bad_values_are_one_line_errors(overrides, message):
    with pytest.raises(GlossaError, match=message) as error:
        load_config(None, overrides)
    assert "\n" not in str(error.value)


def test_missing_config_file():
    with pytest.raises(GlossaError, match="no config file"):
        load_config("does/not/exist.toml")


def test_checkpoint_folder_that_is_a_file(tmp_path):
    (tmp_path / "run").write_text("not a folder")
    config = load_config(None, [f"--out_dir={tmp_path / 'run'}"])
    config.tokens = np.arange(1000) % 50
    with pytest.raises(GlossaError, match="is a file, not a folder"):
        Trainer(config)


def test_unknown_model_preset(tmp_path):
    config = load_config(None, ["--model=gpt5", f"--out_dir={tmp_path}"])
    config.tokens = np.arange(1000) % 50
    with pytest.raises(GlossaError, match="no model preset named 'gpt5'"):
        Trainer(config)


def test_cli_reports_bad_input_on_one_line(tmp_path):
    from glossa.cli.train import register

    app = typer.Typer()
    register(app)
    recipe = tmp_path / "r.toml"
    recipe.write_text("max_steps = 2\n")
    result = CliRunner().invoke(app, ["train", str(recipe), "--warmup=3"])
    assert isinstance(result.exception, GlossaError)
    assert "unknown setting warmup" in str(result.exception)

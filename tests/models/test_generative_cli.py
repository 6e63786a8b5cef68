"""`glossa generate-toy`, on a local Typer app (the command is registered in the real `glossa` app by
glossa.cli)."""

import pytest
import torch
import typer
from typer.testing import CliRunner

from glossa.cli import generative
from glossa.errors import GlossaError


@pytest.fixture(scope="module")
def invoke():
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A stand-in for the glossa app."""

    generative.register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_diffusion_writes_a_png_and_prints_the_table(invoke, tmp_path):
    threads = torch.get_num_threads()
    out = tmp_path / "x.png"
    result = invoke("generate-toy", "diffusion", "--steps", "200", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for expected in (
        "diffusion on ring: 200 steps, seed 0",
        "MMD²",
        "ring modes covered",
        "/ 8",
        "training time",
    ):
        assert expected in result.output
    assert f"wrote {out}" in result.output.replace("\n", "")
    assert torch.get_num_threads() == threads  # the one-thread setting is restored
    assert not list(tmp_path.glob(".x.png.*"))  # no temporary file left behind


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_other_models_on_other_data(invoke, kind):
    result = invoke("generate-toy", kind, "--data", "moons", "--steps", "30", "--seed", "2")
    assert result.exit_code == 0, result.output
    assert f"{kind} on moons: 30 steps, seed 2" in result.output
    assert "ring modes covered" not in result.output  # coverage is defined for the ring only


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["transformer"], "unknown model 'transformer': use one of gan, vae, diffusion"),
        (["gan", "--data", "swiss-roll"], "unknown toy data 'swiss-roll'"),
        (["vae", "--steps", "0"], "--steps must be at least 1, not 0"),
        (["gan", "--steps", "-5"], "--steps must be at least 1, not -5"),
        (["diffusion", "--out", "plot.jpg"], "--out must name a .png file"),
        (["diffusion", "--seed", "-1"], "--seed must be between 0 and 2**32 - 1, not -1"),
    ],
)
def test_bad_input_is_a_one_line_error(invoke, args, message):
    result = invoke("generate-toy", *args)
    assert isinstance(result.exception, GlossaError)
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_out_in_a_missing_folder_is_refused_before_training(invoke, tmp_path):
    result = invoke("generate-toy", "diffusion", "--out", str(tmp_path / "missing" / "x.png"))
    assert isinstance(result.exception, GlossaError)
    assert "does not exist" in str(result.exception) and "\n" not in str(result.exception)
    assert "training time" not in result.output and not (tmp_path / "missing").exists()

"""`glossa model describe|attention-mask|rope` and `glossa embed`, on a local Typer app (the commands are
registered in the real `glossa` app by glossa.cli)."""

import pytest
import typer
from typer.testing import CliRunner

from glossa.cli import model as model_cli
from glossa.errors import GlossaError


@pytest.fixture(scope="module")
def invoke():
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A stand-in for the glossa app."""

    model_cli.register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_describe_a_preset(invoke):
    result = invoke("model", "describe", "smollm2-135m")
    assert result.exit_code == 0, result.output
    for expected in ("134,515,008", "9 / 3 (GQA) / 64", "46,080 B/token", "scale category: small", "rmsnorm"):
        assert expected in result.output


def test_describe_the_real_model_reads_only_its_metadata(invoke):
    result = invoke("model", "describe", "smollm2", "--context", "512")
    assert result.exit_code == 0, result.output
    assert "134,515,008" in result.output and "attending over 512 positions" in result.output


def test_describe_a_config_file(invoke, tmp_path):
    from glossa.models.presets import preset

    path = tmp_path / "moe.json"
    path.write_text(__import__("json").dumps(preset("moe-tiny").to_dict()))
    result = invoke("model", "describe", str(path))
    assert result.exit_code == 0 and "active per token" in result.output and "experts" in result.output


def test_describe_unknown_source(invoke):
    result = invoke("model", "describe", "gpt-5")
    assert isinstance(result.exception, GlossaError)
    assert "smollm2-135m" in str(result.exception)  # the error lists the presets


def test_embed_prints_both_matrices(invoke):
    result = invoke("embed", "a cat", "a dog", "an invoice")
    assert result.exit_code == 0, result.output
    assert "cosine similarity" in result.output and "Euclidean distance" in result.output
    assert "384" in result.output and "[2] an invoice" in result.output


@pytest.mark.parametrize("kind", ["causal", "bidirectional", "sliding", "block-sparse", "padding"])
def test_attention_mask_demo(invoke, kind):
    result = invoke("model", "attention-mask", "--kind", kind, "--size", "6")
    assert result.exit_code == 0, result.output
    expected = {"causal": 21, "bidirectional": 36, "sliding": 15, "block-sparse": 15, "padding": 24}[kind]
    assert f"{expected} of 36 query-key pairs attended" in result.output


def test_rope_demo_shows_the_relative_property(invoke):
    result = invoke("model", "rope", "--head-dim", "16", "--scaling", "linear", "--factor", "2")
    assert result.exit_code == 0, result.output
    values = [
        line.split(":")[1].strip() for line in result.output.splitlines() if line.strip().startswith("p =")
    ]
    assert len(values) == 4 and len({value[:7] for value in values}) == 1


def test_bad_demo_options(invoke):
    assert isinstance(invoke("model", "attention-mask", "--kind", "dilated").exception, GlossaError)
    assert isinstance(invoke("model", "rope", "--head-dim", "7").exception, GlossaError)

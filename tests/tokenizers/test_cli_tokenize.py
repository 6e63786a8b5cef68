"""`glossa tokenize` and `glossa tokenizer train|stats|compare`, run through Typer's test runner."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from glossa.cli.tokenize import register
from glossa.errors import GlossaError
from glossa.tokenizers.bpe import ByteLevelBPE
from glossa.tokenizers.loading import load_tokenizer

CORPUS = "the theme of the thesis is the theory of them.\nThey then thought the other way.\n" * 40


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def run(app):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input)

    return invoke


def assert_one_line_error(result, *fragments: str) -> None:
    """The command ended in a GlossaError (which `glossa.cli.main` prints as one line) naming `fragments`."""
    assert isinstance(result.exception, GlossaError), result.output
    message = str(result.exception)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_tokenize_shows_tokens_and_counts(run):
    result = run("tokenize", "Hello world 123", "--tokenizer", "smollm2")
    assert result.exit_code == 0, result.output
    for shown in ("19556", "Ġworld", "48 65 6c 6c 6f", "6 tokens, 15 bytes, 2.50 bytes per token (smollm2)"):
        assert shown in result.stdout, shown


def test_tokenize_ids_only_and_special_tokens(run):
    assert run("tokenize", "Hello world 123", "--ids-only").stdout == "19556 905 216 33 34 35\n"
    plain = run("tokenize", "<|im_start|>", "--ids-only").stdout.split()
    assert "1" not in plain and len(plain) > 1
    assert run("tokenize", "<|im_start|>", "--ids-only", "--allow-special").stdout == "1\n"


def test_tokenize_chat_shows_the_system_prompt(run):
    result = run("tokenize", "--chat", "Hi", "--limit", "0")
    assert result.exit_code == 0, result.output
    assert "You are a helpful AI assistant named SmolLM" in result.stdout
    ids = run("tokenize", "--chat", "Hi", "--system", "Be brief.", "--ids-only").stdout.split()
    assert ids[0] == "1" and ids.count("1") == 3 and ids.count("2") == 2  # <|im_start|>, <|im_end|>
    assert_one_line_error(run("tokenize", "Hi", "--system", "x"), "--system needs --chat")
    assert_one_line_error(run("tokenize", "--chat", "Hi", "--tokenizer", "minilm"), "no chat template")


def test_tokenize_a_file_with_minilm(run, tmp_path):
    path = tmp_path / "note.txt"
    path.write_text("Hello, world!", encoding="utf-8")
    result = run("tokenize", "--file", str(path), "--tokenizer", "minilm", "--ids-only")
    assert result.stdout == "7592 1010 2088 999\n"


def test_tokenize_characters_split_across_tokens(run):
    result = run("tokenize", "🫠", "--limit", "0")  # one emoji, several byte-level tokens
    assert result.exit_code == 0
    assert "🫠" in result.stdout and "\ufffd" not in result.stdout


def test_tokenize_bad_input(run, tmp_path):
    assert_one_line_error(run("tokenize"), "nothing to tokenize")
    assert_one_line_error(run("tokenize", "x", "--file", "f.txt"), "either a TEXT or --file")
    assert_one_line_error(run("tokenize", "x", "--tokenizer", "gpt7"), "registered name (smollm2, minilm)")
    assert_one_line_error(run("tokenize", "x", "--tokenizer", str(tmp_path / "none.gguf")), "no tokenizer")
    assert_one_line_error(run("tokenize", "--file", str(tmp_path / "absent.txt")), "no such file")


@pytest.mark.parametrize("algo", ["bpe", "wordpiece", "unigram"])
def test_train_writes_a_loadable_tokenizer(run, tmp_path, algo):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    out = tmp_path / f"{algo}.json"
    result = run(
        "tokenizer", "train", "--algo", algo, "--vocab-size", "300", "--special", "<|endoftext|>",
        "--out", str(out), str(corpus),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "written to" in result.stdout and "bytes per token" in result.stdout
    tokenizer = load_tokenizer(out)
    assert "<|endoftext|>" in tokenizer.special_tokens
    assert tokenizer.vocab_size <= 300
    assert tokenizer.encode("the theme") and "the theme" in tokenizer.decode(tokenizer.encode("the theme"))


def test_train_bpe_options(run, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS + "in 2024 and 1999\n", encoding="utf-8")
    out = tmp_path / "smollm-style.json"
    result = run(
        "tokenizer", "train", "--vocab-size", "270", "--min-frequency", "5", "--pretokenizer", "smollm",
        "--out", str(out), str(corpus),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tokenizer = load_tokenizer(out)
    assert isinstance(tokenizer, ByteLevelBPE) and tokenizer.pretokenizer == "smollm"
    assert tokenizer.vocab_size <= 270


def test_train_refuses_non_utf8_unless_asked(run, tmp_path):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes(CORPUS.encode() + "café".encode("latin-1") + b"\n")
    offset = len(CORPUS.encode()) + 3
    out = tmp_path / "out.json"
    strict = run("tokenizer", "train", "--vocab-size", "280", "--out", str(out), str(corpus))
    assert_one_line_error(strict, str(corpus), f"at byte {offset}", "--errors replace")
    assert not out.exists()
    replaced = run(
        "tokenizer", "train", "--vocab-size", "280", "--errors", "replace", "--out", str(out), str(corpus)
    )
    assert replaced.exit_code == 0, replaced.output
    assert f"at byte {offset}" in replaced.stderr and "1 invalid byte(s) replaced" in replaced.stderr
    assert out.exists()


def test_train_bad_options(run, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    assert_one_line_error(run("tokenizer", "train", "--vocab-size", "0", str(corpus)), "--vocab-size")
    assert_one_line_error(
        run("tokenizer", "train", "--min-frequency", "0", str(corpus)), "--min-frequency must be at least 1"
    )
    assert_one_line_error(run("tokenizer", "train", "--vocab-size", "100", str(corpus)), "too small")
    assert run("tokenizer", "train", "--algo", "sentencepiece", str(corpus)).exit_code == 2  # usage error


def test_stats_and_compare(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short file names keep the table narrow
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("Hello world 123", encoding="utf-8")
    second.write_text("東京 and 👍", encoding="utf-8")
    stats = run("tokenizer", "stats", "--tokenizer", "smollm2", "a.txt", "b.txt")
    assert stats.exit_code == 0, stats.output
    assert "all files" in stats.stdout and "2.50" in stats.stdout
    compare = run("tokenizer", "compare", "smollm2", "minilm", "--file", str(first))
    assert compare.exit_code == 0, compare.output
    assert "bytes per token" in compare.stdout and "unknown rate" in compare.stdout
    sample = run("tokenizer", "compare", "smollm2", "minilm")
    assert sample.exit_code == 0 and "sample text" in sample.stdout
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff")
    assert_one_line_error(run("tokenizer", "stats", str(bad)), "at byte 3")

"""`glossa text`: tables and totals for a string, a report (exit 0) for invalid UTF-8, one-line errors
otherwise.

The commands run in a local Typer app (see conftest.py), so a `GlossaError` reaches `result.exception` and its
message can be checked; the last test runs the real `python -m glossa` to check the one line and exit status
2.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import glossa
from glossa.errors import GlossaError

WIDE = {"COLUMNS": "220", "NO_COLOR": "1"}
INVALID_UTF8 = b"ok \xff caf\xc3\xa9 \xed\xa0\x80 \xe4\xb8"  # bad byte, surrogate, truncated sequence


def run(app: typer.Typer, *args: str, stdin: bytes | None = None):
    return CliRunner(env=WIDE).invoke(app, ["text", *args], input=stdin)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, GlossaError), result.exception
    message = str(result.exception)
    assert "\n" not in message and message
    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in result.output


def test_string_prints_table_and_totals(text_app: typer.Typer) -> None:
    result = run(text_app, "héllo 中 👍")
    assert result.exit_code == 0, result.output
    for expected in (
        "U+00E9", "LATIN SMALL LETTER E WITH ACUTE", "Ll letter, lowercase", "Latin-1 (ISO-8859-1) 0xE9",
        "C3 A9", "U+4E2D", "CJK UNIFIED IDEOGRAPH-4E2D", "E4 B8 AD", "not ASCII",
        "U+1F44D", "THUMBS UP SIGN", "F0 9F 91 8D", "D83D DC4D", "0001F44D", "ASCII 104",
    ):  # fmt: skip
        assert expected in result.output, expected
    totals = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.output.splitlines()
              if line.count("│") == 4}  # fmt: skip
    assert totals["characters (grapheme clusters)"] == "9"
    assert totals["code points"] == "9"
    assert totals["UTF-8 bytes"] == str(len("héllo 中 👍".encode()))
    assert totals["UTF-16 bytes"] == "20"
    assert totals["UTF-32 bytes"] == "36"
    assert totals["ASCII code points"] == "6"
    assert "66.7% of code points" in result.output


def test_combining_marks_and_controls_are_shown_safely(text_app: typer.Typer) -> None:
    result = run(text_app, "e\u0301\x1b[2J\u202e")
    assert result.exit_code == 0
    assert "◌\u0301" in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "\\x1b" in result.output and "\\u202e" in result.output
    assert "COMBINING ACUTE ACCENT" in result.output


def test_limit_leaves_a_note(text_app: typer.Typer) -> None:
    result = run(text_app, "abcdefghij", "--limit", "3")
    assert result.exit_code == 0
    assert "first 3 of 10" in result.output
    assert "7 more code points not shown" in result.output
    assert "U+0063" in result.output and "U+0064" not in result.output


def test_invalid_file_is_reported_and_exits_zero(text_app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(INVALID_UTF8)
    result = run(text_app, "--file", str(path))
    assert result.exit_code == 0, result.output
    assert "\ufffd" in result.output
    replacement_count = INVALID_UTF8.decode("utf-8", "replace").count("\ufffd")
    assert f"{replacement_count} invalid UTF-8 sequence(s)" in result.output
    report = [line.split("│") for line in result.output.splitlines() if line.count("│") == 4]
    offsets = [int(cells[1]) for cells in report if cells[1].strip().isdigit()]
    assert offsets == [3, 11, 12, 13, 15]
    for reason in ("invalid byte 0xFF", "surrogate", "unexpected continuation byte", "truncated sequence"):
        assert reason in result.output


def test_strict_refuses_invalid_utf8_in_one_line(text_app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(INVALID_UTF8)
    result = run(text_app, "--file", str(path), "--strict")
    assert_one_line_error(result, "not valid UTF-8", "first at byte 3")


def test_strict_accepts_valid_utf8(text_app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "ok.txt"
    path.write_text("naïve\n", encoding="utf-8")
    result = run(text_app, "--file", str(path), "--strict")
    assert result.exit_code == 0
    assert "U+00EF" in result.output and "input bytes" in result.output


def test_file_larger_than_the_table_still_counts_everything(text_app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("中" * 5000, encoding="utf-8")
    result = run(text_app, "--file", str(path))
    assert result.exit_code == 0
    assert "first 200 of 5,000" in result.output
    assert "15,000" in result.output  # UTF-8 bytes of the whole file


def test_stdin(text_app: typer.Typer) -> None:
    result = run(text_app, "--file", "-", stdin=b"A\xff")
    assert result.exit_code == 0
    assert "text from stdin" in result.output and "\ufffd" in result.output


def test_missing_file_is_one_line(text_app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = run(text_app, "--file", "missing.txt")
    assert_one_line_error(result)
    assert str(result.exception) == "no such file: missing.txt"


def test_directory_is_one_line(text_app: typer.Typer, tmp_path: Path) -> None:
    assert_one_line_error(run(text_app, "--file", str(tmp_path)), "is a directory")


def test_no_input_is_one_line(text_app: typer.Typer) -> None:
    assert_one_line_error(run(text_app), "nothing to inspect", "--file")


def test_string_and_file_together_is_one_line(text_app: typer.Typer) -> None:
    assert_one_line_error(run(text_app, "abc", "--file", "x.txt"), "not both")


def test_negative_limit_is_one_line(text_app: typer.Typer) -> None:
    assert_one_line_error(run(text_app, "abc", "--limit", "-1"), "--limit")


def test_lone_surrogate_argument_is_one_line(text_app: typer.Typer) -> None:
    assert_one_line_error(run(text_app, "a\ud800"), "lone surrogate U+D800")


def test_real_cli_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """Needs the whole `glossa` CLI (every command group imported by glossa.cli) to exist."""
    env = {**os.environ, "PYTHONPATH": str(Path(glossa.__file__).parent.parent), "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "glossa", "text", "--file", "missing.txt"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: no such file: missing.txt"]


def test_real_cli_in_process_no_input_is_one_line(run_cli, one_line_error) -> None:
    """Through `glossa.cli.main`, as a user runs it (needs every command group of glossa.cli to import)."""
    result = run_cli("text")
    one_line_error(result)
    assert result.exit_code == 2
    assert "nothing to inspect" in result.stderr


def test_table_fits_an_80_column_terminal(text_app: typer.Typer) -> None:
    result = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"}).invoke(text_app, ["text", "é👍\x85"])
    assert result.exit_code == 0
    assert all(len(line) <= 80 for line in result.output.splitlines())
    for expected in ("UTF-32BE", "000000E9", "0001F44D", "D83D DC4D"):
        assert expected in result.output, expected


def test_limit_zero_shows_only_totals(text_app: typer.Typer) -> None:
    result = run(text_app, "abc", "--limit", "0")
    assert result.exit_code == 0
    assert "Code points" not in result.output and "Totals" in result.output

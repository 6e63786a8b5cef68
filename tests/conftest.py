"""Shared test helpers: run the `glossa` CLI in-process and capture what a user would see."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys):
    """Call `glossa ARGS...` in this process; return its exit code, stdout and stderr."""

    from glossa.cli import main

    def run(*args: str) -> CliResult:
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def run_process(tmp_path):
    """Run `python -m glossa ARGS...` as a separate process in a scratch folder, as a user's shell would."""

    def run(*args: str, timeout: float = 300) -> CliResult:
        completed = subprocess.run(
            [sys.executable, "-m", "glossa", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=timeout,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    return run


def assert_one_line_error(result: CliResult) -> None:
    """A user mistake ends with a non-zero exit and exactly one line on stderr, never a traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.fixture
def one_line_error():
    return assert_one_line_error


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train faster on one thread: OpenMP fork/join on a shared 2-core machine costs more than it
    saves. Use with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`; the setting is restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

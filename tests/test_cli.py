"""The `glossa` entry point: user mistakes of every kind end as one line and a non-zero exit."""

import pytest


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["quantize", "--rows", "abc"],
        ["bits", "1", "--as", "fp7"],
        ["bits", "abc", "--as", "fp16"],
        ["explain", "no-such-term"],
        ["text", "--file", "missing.txt"],
        ["glossary", "--section", "99"],
    ],
)
def test_user_mistakes_are_one_line_errors(run_process, one_line_error, args):
    one_line_error(run_process(*args))


def test_help_lists_the_command_groups(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in ("glossary", "explain", "bits", "quantize", "text", "speedrun"):
        assert command in result.stdout

"""The `glossa` command: one Typer app, one file per command group.

Each module in this folder has a `register(app)` that adds its commands. `main()` is the console script: it
turns a `GlossaError` (or a usage error) into one line on stderr and a non-zero exit, never a traceback.
"""

import sys

import typer

try:  # typer 0.25 and later carries its own copy of click; earlier versions use click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions

from glossa.cli import (
    bench,
    bits,
    data,
    generate,
    generative,
    glossary,
    lessons,
    model,
    registry,
    sample,
    serve,
    speedrun,
    text,
    tokenize,
    train,
)
from glossa.cli.console import err_console
from glossa.errors import GlossaError

app = typer.Typer(
    name="glossa",
    help="The generative-AI glossary, from binary to deployment, as one working system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

COMMAND_GROUPS = (
    glossary,
    bits,
    text,
    tokenize,
    data,
    model,
    generative,
    train,
    lessons,
    sample,
    generate,
    bench,
    serve,
    registry,
    speedrun,
)
for command_group in COMMAND_GROUPS:
    command_group.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user mistakes end with one line on stderr and exit status 2."""
    try:
        result = app(args=argv, prog_name="glossa", standalone_mode=False)
    except GlossaError as error:
        err_console.print(f"[bold red]error:[/] {error}", markup=True, highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click_exceptions.ClickException as error:
        err_console.print(f"[bold red]error:[/] {error.format_message()}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    sys.exit(result if isinstance(result, int) else 0)

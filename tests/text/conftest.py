"""Fixtures for the `glossa text` CLI tests: a Typer app with only the `text` command, so these tests check
our command on its own."""

import pytest
import typer

from glossa.cli import text as text_cli


@pytest.fixture(scope="session")
def text_app() -> typer.Typer:
    """A Typer app with only the `text` command, invoked as `text ...`."""
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def root() -> None:
        """Keeps `text` a subcommand, as in the real app."""

    text_cli.register(app)
    return app

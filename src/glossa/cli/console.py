"""Shared Rich consoles: tables and progress go to stdout, errors to stderr."""

from rich.console import Console

console = Console()
err_console = Console(stderr=True)

"""`glossa registry add|list|remove|alias`: the model registry (SQLite) that `glossa serve` reads.

    glossa registry add chat models/chat.gguf --root models            → chat@v1, sha256 recorded
    glossa registry add chat models/chat-v2.gguf --root models --alias chat-latest
    glossa registry alias chat-ab chat@v1=0.9 chat@v2=0.1              an A/B split by weight
    glossa registry list                                               a table
    glossa registry remove chat --version v1

The registry file is `--registry` or GLOSSA_REGISTRY (default ~/.glossa/registry.db). Paths must resolve to
somewhere under a `--root` (or GLOSSA_MODEL_ROOTS, `:`-separated): no traversal out of the model folders.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from glossa.cli.console import console
from glossa.errors import GlossaError

registry_app = typer.Typer(
    name="registry", help="Registered models, versions and aliases.", no_args_is_help=True
)
RegistryOption = Annotated[Path | None, typer.Option("--registry", help="registry file (default ~/.glossa)")]
RootOption = Annotated[list[Path] | None, typer.Option("--root", help="folder models must live under")]


def register(app: typer.Typer) -> None:
    """Add `glossa registry` to the glossa app."""
    app.add_typer(registry_app, name="registry")


def _open(registry: Path | None, roots: list[Path] | None = None):
    from glossa.serve.registry import ModelRegistry

    env_roots = [Path(p) for p in os.environ.get("GLOSSA_MODEL_ROOTS", "").split(":") if p]
    return ModelRegistry(registry, [*(roots or []), *env_roots])


@registry_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="model name")],
    path: Annotated[Path, typer.Argument(help="a .gguf file or a model folder")],
    version: Annotated[str | None, typer.Option(help="version label (default v<n>)")] = None,
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="an alias pointing at this version")
    ] = None,
    registry: RegistryOption = None,
    root: RootOption = None,
) -> None:
    """Register a model version: path validated, sha256 recorded."""
    entry = _open(registry, root).add(name, path, version=version, aliases=alias or ())
    console.print(f"registered {entry.key}: {entry.path} sha256 {entry.sha256[:16]}…")


@registry_app.command("list")
def list_models(registry: RegistryOption = None) -> None:
    """The registered models and aliases, as a table."""
    store = _open(registry)
    table = Table(title=f"models in {store.path}")
    for column in ("name", "version", "path", "sha256", "added", "aliases"):
        table.add_column(column)
    aliases = store.aliases()
    for entry in store.models():
        pointing = [
            f"{alias} ({target.weight:g})" if len(targets) > 1 else alias
            for alias, targets in aliases.items()
            for target in targets
            if target.key == entry.key
        ]
        added = datetime.datetime.fromtimestamp(entry.added_at, datetime.UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            entry.name, entry.version, str(entry.path), entry.sha256[:12], added, ", ".join(pointing)
        )
    console.print(table)


@registry_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="model name")],
    version: Annotated[str | None, typer.Option(help="only this version (default: all)")] = None,
    registry: RegistryOption = None,
) -> None:
    """Remove a model (or one version) and the aliases that pointed at it."""
    count = _open(registry).remove(name, version)
    console.print(f"removed {count} version{'s' if count != 1 else ''} of {name}")


@registry_app.command("alias")
def alias(
    alias: Annotated[str, typer.Argument(help="the alias")],
    targets: Annotated[list[str], typer.Argument(help="NAME@VERSION[=WEIGHT] ... (several: an A/B split)")],
    registry: RegistryOption = None,
) -> None:
    """Point an alias at one version, or split it between versions by weight."""
    parsed = []
    for target in targets:
        key, _, weight = target.partition("=")
        name, _, version = key.partition("@")
        if not version:
            raise GlossaError(f"alias targets are NAME@VERSION[=WEIGHT], got {target!r}")
        try:
            parsed.append((name, version, float(weight) if weight else 1.0))
        except ValueError:
            raise GlossaError(f"the weight in {target!r} is not a number") from None
    _open(registry).set_alias(alias, parsed)
    console.print(f"{alias} → " + ", ".join(f"{n}@{v} ({w:g})" for n, v, w in parsed))
